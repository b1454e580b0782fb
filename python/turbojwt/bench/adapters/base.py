"""One adapter per library: how it decodes (verifying the signature, ``aud``, ``iss`` and
``exp``) and how it encodes. An adapter raises :class:`Unsupported` for what its library
cannot do (an algorithm, a key form), and the harness skips that row with the reason.

Key forms for decode: ``"prepared"`` (the library's own parsed key object, made once) and
``"pem"`` (the key as a PEM string, or the HMAC secret as a str, passed on every call).
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from typing import Any, Callable

from ..material import Case

KEY_FORMS = ("prepared", "pem")


class Unsupported(Exception):
    """The library cannot run this case (the message says why)."""


@dataclass
class Adapter:
    name: str  # as given to --libs
    label: str  # as shown in tables
    module: str  # import name
    dist: str  # distribution name (for the version)
    native: bool = False  # has a compiled core
    make_decoder: Callable[[Any, Case, str], Callable[[str], Any]] | None = None
    make_encoder: Callable[[Any, Case], Callable[[dict], Any]] | None = None

    def load(self) -> Any:
        """The imported module; ImportError when the library is not installed."""
        return importlib.import_module(self.module)

    def version(self) -> str:
        try:
            return importlib.metadata.version(self.dist)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    def decoder(self, case: Case, key_form: str) -> Callable[[str], Any]:
        if self.make_decoder is None:
            raise Unsupported("no decode adapter")
        return self.make_decoder(self.load(), case, key_form)

    def encoder(self, case: Case) -> Callable[[dict], Any]:
        if self.make_encoder is None:
            raise Unsupported("no encode adapter")
        return self.make_encoder(self.load(), case)


def verify_key(case: Case, key_form: str, prepared: Callable[[], Any] | None = None) -> Any:
    """The verification key for PyJWT-style APIs: the secret or public PEM string, or the
    prepared object (default: the cryptography key object / secret bytes)."""
    if key_form == "pem":
        return case.secret if case.secret is not None else case.public_pem
    if prepared is not None:
        return prepared()
    return case.secret.encode() if case.secret is not None else case.public_key


def signing_key(case: Case) -> Any:
    return case.secret if case.secret is not None else case.private_pem


# -------------------------------------------------------------------------- turbojwt, PyJWT


def _pyjwt_style_decoder(lib: Any, case: Case, key_form: str) -> Callable[[str], Any]:
    key = verify_key(case, key_form)
    decode = lib.decode
    algorithms = [case.alg]
    audience, issuer = case.audience, case.issuer

    def run(token: str) -> Any:
        return decode(token, key, algorithms=algorithms, audience=audience, issuer=issuer)

    return run


def _pyjwt_style_encoder(lib: Any, case: Case) -> Callable[[dict], Any]:
    key = signing_key(case)
    encode = lib.encode
    alg = case.alg
    return lambda claims: encode(claims, key, algorithm=alg)


def _turbojwt_verifier_decoder(lib: Any, case: Case, key_form: str) -> Callable[[str], Any]:
    verifier = lib.Verifier(
        verify_key(case, key_form), algorithms=[case.alg], audience=case.audience, issuer=case.issuer
    )
    return verifier.decode
