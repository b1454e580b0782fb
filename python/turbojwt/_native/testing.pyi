# Test hooks of the native module (turbojwt._native.testing); not part of the API.

# Whether `signature` is `alg`'s signature of `signing_input` under `key`, through the core's
# signature path without JWS parsing (ValueError for a key unusable with `alg`).
__all__ = ["verify_raw"]

def verify_raw(alg: str, key: str | bytes, signing_input: bytes, signature: bytes) -> bool: ...
