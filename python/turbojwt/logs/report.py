"""The summary of a ``turbojwt verify-logs`` run and its printing: outcomes, tokens expired
at request time or only since, the top issuers, kids and subjects (in bounded memory), as
a dict (``--json``) or as text for a person, where every value that comes from the logs
goes through :func:`printable` first."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any


class TopCounter:
    """Heavy hitters in bounded memory: exact while at most ``2 * capacity`` distinct values
    are seen; beyond that the lightest are dropped now and then (top counts of values that
    recur stay exact or slightly low)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self.counts: Counter[Any] = Counter()

    def update(self, values: list[Any] | dict[str, int]) -> None:
        """Counts `values`, a list of values or a mapping value -> count."""
        counts = self.counts
        counts.update(values)
        counts.pop(None, None)
        if len(counts) > 2 * self.capacity:
            # Keep the heaviest; the rest start again from zero (bounded memory, and
            # values that matter stay far above the cut).
            self.counts = Counter(dict(counts.most_common(self.capacity)))

    def top(self, n: int) -> list[tuple[str, int]]:
        return self.counts.most_common(n)


class Summary:
    """The tallies of a run, or of one part of it (a file, a partition): parts are counted
    apart (on a Dask worker, or file by file by the local command) and joined with
    :meth:`merge`, so that every summary, local or from a cluster, is built the same way."""

    def __init__(self, leeway: float, now: float | None = None) -> None:
        self.now = time.time() if now is None else now
        self.leeway = leeway
        self.lines = 0
        self.tokens = 0
        self.outcomes: Counter[str] = Counter()
        self.issuers = TopCounter()
        self.kids = TopCounter()
        self.subjects = TopCounter()
        self.expired_at_request = 0
        self.expired_only_now = 0

    @property
    def expired_before(self) -> float:
        """A valid token whose ``exp`` is at or before this has expired since its request."""
        return self.now - self.leeway

    def update(self, columns: dict[str, list[Any]]) -> None:
        errors = columns["error"]
        outcomes = Counter(errors)
        outcomes["valid"] = outcomes.pop(None, 0)
        limit = self.expired_before
        expired_only_now = sum(
            1 for v, exp in zip(columns["valid"], columns["exp"]) if v and exp is not None and exp <= limit
        )
        self.add(len(errors), outcomes, expired_only_now, columns["iss"], columns["kid"], columns["sub"])

    def add(
        self,
        lines: int,
        outcomes: Counter[str] | dict[str, int],
        expired_only_now: int,
        issuers: Any,
        kids: Any,
        subjects: Any,
    ) -> None:
        """Counts of `lines` lines; issuers, kids and subjects as values or value -> count."""
        self.lines += lines
        self.tokens += lines - outcomes.get("malformed", 0)
        self.outcomes.update({k: n for k, n in outcomes.items() if n})
        self.expired_at_request += outcomes.get("ExpiredSignatureError", 0)
        self.expired_only_now += expired_only_now
        self.issuers.update(issuers)
        self.kids.update(kids)
        self.subjects.update(subjects)

    def part(self) -> Summary:
        """An empty summary for one part of this run (the same ``now`` and leeway)."""
        return Summary(self.leeway, self.now)

    def merge(self, part: Summary) -> None:
        """Adds the tallies of ``part`` (see :meth:`part`)."""
        if (part.now, part.leeway) != (self.now, self.leeway):
            raise ValueError("a summary merges only the parts of its own run (same time and leeway)")
        self.add(
            part.lines,
            part.outcomes,
            part.expired_only_now,
            dict(part.issuers.counts),
            dict(part.kids.counts),
            dict(part.subjects.counts),
        )

    def as_dict(self, top: int, seconds: float) -> dict[str, Any]:
        valid = self.outcomes.get("valid", 0)
        return {
            "lines": self.lines,
            "tokens": self.tokens,
            "valid": valid,
            "invalid": self.lines - valid,
            "outcomes": dict(self.outcomes.most_common()),
            "expired_at_request_time": self.expired_at_request,
            "valid_at_request_time_but_expired_now": self.expired_only_now,
            "top_issuers": self.issuers.top(top),
            "top_kids": self.kids.top(top),
            "top_subjects": self.subjects.top(top),
            "seconds": round(seconds, 3),
            "lines_per_second": round(self.lines / seconds) if seconds > 0 else None,
        }


_SHORT_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(value: Any) -> str:
    """Text for the terminal from values anyone can forge (claims, file contents): the
    characters ``str.isprintable`` refuses (C0 and C1 controls such as ESC, DEL, format
    characters such as bidirectional overrides, line separators, lone surrogates) and the
    backslash are escaped as ``repr`` writes them (``\\x1b``, ``\\u202e``, ``\\\\``), so a
    token cannot move the cursor, recolour, retitle or rewrite the operator's terminal,
    nor pass its escaped spelling off as the real thing."""
    text = str(value)
    if text.isprintable() and "\\" not in text:
        return text
    out = []
    for ch in text:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def print_summary(s: dict[str, Any]) -> None:
    """The summary for a person; every value that comes from the logs through :func:`printable`."""
    lines = [
        f"{s['lines']:,} lines, {s['tokens']:,} tokens: {s['valid']:,} valid, {s['invalid']:,} not "
        f"({s['seconds']:.2f} s, {s['lines_per_second'] or 0:,} lines/s)",
        "",
        "Outcomes",
    ]
    for name, n in s["outcomes"].items():
        lines.append(f"  {printable(name):<28} {n:>12,}")
    lines.append("")
    lines.append(f"Expired at request time:            {s['expired_at_request_time']:>12,}")
    lines.append(f"Valid at request time, expired now: {s['valid_at_request_time_but_expired_now']:>12,}")
    for title, key in (("Top issuers", "top_issuers"), ("Top kids", "top_kids"), ("Top subjects", "top_subjects")):
        if s[key]:
            lines += ["", title]
            for value, n in s[key]:
                lines.append(f"  {n:>12,}  {printable(value)}")
    text = "\n".join(lines) + "\n"
    # A claim the terminal's encoding cannot show is escaped too, rather than ending the run
    # with UnicodeEncodeError (stdout is strict; stderr already escapes).
    encoding = getattr(sys.stdout, "encoding", None)
    if encoding:
        text = text.encode(encoding, "backslashreplace").decode(encoding)
    sys.stdout.write(text)
