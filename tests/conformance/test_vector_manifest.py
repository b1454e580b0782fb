"""tests/vectors/MANIFEST.md accounts for every vendored vector file: each file in
tests/vectors is listed (so none is added without its origin and licence), each listed file
exists, and its SHA-256 is the one listed (so a refresh updates the provenance too)."""

from __future__ import annotations

import hashlib
import re

import pytest

from helpers.vector_files import VECTORS_DIR, vector_path

# a file row of a MANIFEST table: | `local path` | `path upstream` | `sha256` |
ROW = re.compile(r"^\| `([^`]+)` \| `[^`]*` \| `([0-9a-f]{64})` \|$", re.MULTILINE)


def listed() -> dict[str, str]:
    rows = ROW.findall(vector_path("MANIFEST.md").read_text(encoding="utf-8"))
    paths = [path for path, _ in rows]
    assert len(paths) == len(set(paths)), "a file is listed twice in tests/vectors/MANIFEST.md"
    return dict(rows)


def on_disk() -> set[str]:
    return {
        p.relative_to(VECTORS_DIR).as_posix()
        for p in VECTORS_DIR.rglob("*")
        if p.is_file() and p.name not in ("MANIFEST.md", ".gitattributes")
    }


def test_every_vendored_file_is_listed():
    unlisted = sorted(on_disk() - set(listed()))
    assert not unlisted, f"files in tests/vectors without a row in its MANIFEST.md: {unlisted}"


def test_manifest_lists_the_vectors_and_their_licences():
    names = set(listed())
    assert len(names) >= 30
    for licence in ("wycheproof/LICENSE", "jose-cookbook/LICENSE", "joserfc/LICENSE"):
        assert licence in names


def listed_params():
    if not (VECTORS_DIR / "MANIFEST.md").is_file():
        return [pytest.param("MANIFEST.md", None, id="MISSING-VECTOR-FILE:MANIFEST.md")]
    return [pytest.param(rel, digest, id=rel) for rel, digest in sorted(listed().items())]


@pytest.mark.parametrize("rel, digest", listed_params())
def test_every_listed_file_exists_unchanged(rel, digest):
    data = vector_path(rel).read_bytes()  # fails, naming the file, if it is missing
    assert hashlib.sha256(data).hexdigest() == digest, (
        f"tests/vectors/{rel} differs from the SHA-256 in tests/vectors/MANIFEST.md"
    )
