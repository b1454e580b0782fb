"""The declarations cffi's ``cdef`` takes, made from the committed C header.

cffi parses C declarations, not a preprocessor's input: the header's comments, include
guard, ``#include`` lines and C++ guard are taken out, and its integer ``#define`` constants
kept (cffi reads those). Any other directive is an error, so that a header this does not
understand fails loudly (tests/capi/test_cffi_binding.py runs it on the committed header).
"""

from __future__ import annotations

import re

_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_LINE_COMMENT = re.compile(r"//[^\n]*")
_INT_DEFINE = re.compile(r"#define\s+[A-Z_][A-Z0-9_]*\s+-?\d+\s*$")


def cdef_from_header(header: str) -> str:
    """The cffi declarations of ``turbojwt.h``'s text."""
    text = _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", header))
    out: list[str] = []
    skipping = 0  # depth inside an `#ifdef __cplusplus` block
    guard: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("#"):
            if not skipping and line:
                out.append(raw)
            continue
        words = line[1:].split()
        directive = words[0] if words else ""
        if directive == "ifdef" and words[1:] == ["__cplusplus"]:
            skipping += 1
        elif directive == "endif" and skipping:
            skipping -= 1
        elif skipping:
            continue
        elif directive == "ifndef" and guard is None and len(words) == 2:
            guard = words[1]
        elif directive == "define" and words[1:] == [guard]:
            continue
        elif directive == "endif":
            continue  # the include guard's
        elif directive == "include":
            continue  # the standard headers: cffi knows their types
        elif directive == "define" and _INT_DEFINE.match(line):
            out.append(line)
        else:
            raise ValueError(f"turbojwt.h: a directive cffi cannot take: {line!r}")
    if skipping:
        raise ValueError("turbojwt.h: an #ifdef __cplusplus block is not closed")
    return "\n".join(out) + "\n"
