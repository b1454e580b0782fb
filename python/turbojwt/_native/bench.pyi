# Benchmark hooks of the native module (turbojwt._native.bench); not part of the API.

# Seconds for `iterations` bare verifications of `signature` in a Rust loop (ValueError when it
# does not verify).
__all__ = ["hs256_stages", "verify_floor"]

def verify_floor(alg: str, key: str | bytes, signing_input: bytes, signature: bytes, iterations: int) -> float: ...

# Microseconds per token of each stage of HS256 verification: [(stage name, us)].
def hs256_stages(tokens: list[str], secret: bytes, rounds: int) -> list[tuple[str, float]]: ...
