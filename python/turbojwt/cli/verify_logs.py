"""``turbojwt verify-logs``: which requests in a log carried valid tokens at the time they
were made, which were forged, expired, for another audience or issuer, and who sent them.

The arguments, the key and the run: sources are read by ``turbojwt.logs`` (readers),
verified by ``turbojwt.batch``, written by ``turbojwt.logs`` (writers) and summed up by
``turbojwt.logs.report``."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

EXIT_ALL_VALID, EXIT_SOME_INVALID, EXIT_USAGE = 0, 1, 2


def seconds(text: str) -> float:
    """A finite number of seconds (argparse type): NaN or an infinity would make every
    expiry check meaningless."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "verify-logs",
        help="verify every token in logs (JSONL, CSV, Parquet, access logs, one per line) as of each request's time",
        description=(
            "Verify the JWTs found in logs on every core, each judged as of its request's time "
            "(--time-field, or the access-log time) rather than now. Prints a summary; --out writes one "
            "record per input line (line, valid, error, reason, iss, sub, kid, exp). Exit status: 0 when "
            "every line carried a valid token, 1 otherwise, 2 for usage or I/O errors (a source that cannot be "
            "read to its end, such as a truncated .gz, stops the run with one line naming the file and the line "
            "reached; --out keeps the records of every line before it)."
        ),
    )
    p.add_argument("sources", nargs="+", metavar="FILE", help="log files ('-' for stdin); gzip is read transparently")
    p.add_argument(
        "--format",
        choices=("auto", "lines", "jsonl", "access", "csv", "parquet"),
        default="auto",
        help="input format (default: from the file name: .jsonl/.ndjson/.json, .csv, .parquet, .log "
        "(access log), anything else one token per line). Access logs: the request time is the "
        '[%%t] field of the common/combined format (host ident user [time] "request" ...); lines '
        "in other layouts have none (judged now, or --at), and a time that is no date (31/Feb) "
        "makes the line malformed",
    )
    p.add_argument("--token-field", metavar="A.B.C", help="JSON lines: dotted path of the token")
    p.add_argument(
        "--time-field", metavar="A.B.C", help="JSON lines, CSV, Parquet: the request time (epoch seconds or ISO 8601)"
    )
    p.add_argument(
        "--token-regex",
        metavar="REGEX",
        help="access logs: where the token is (group 1, or a group named 'token'); "
        "default: after the word 'Bearer'. A line where two different tokens are found is "
        "malformed (the client writes the request line and User-Agent too)",
    )
    p.add_argument("--column", metavar="NAME", help="CSV, Parquet: the token column")
    keys = p.add_mutually_exclusive_group(required=True)
    keys.add_argument(
        "--secret", metavar="SECRET", help="HMAC secret (visible in the process list: prefer --secret-env)"
    )
    keys.add_argument("--secret-env", metavar="NAME", help="environment variable holding the HMAC secret")
    keys.add_argument("--key", metavar="FILE", help="public key: PEM, or a JWK as JSON")
    keys.add_argument(
        "--jwks",
        action="append",
        metavar="FILE",
        help="JWKS (JSON); keys picked by kid. Repeatable: snapshots of the provider's set over the period "
        "the logs span, merged by kid (one kid naming two different keys is an error)",
    )
    p.add_argument(
        "--alg",
        action="append",
        metavar="ALG",
        help="allowed algorithm (repeatable; default: HS256 for secrets, the JWK 'alg' values for --key/--jwks JWKs)",
    )
    p.add_argument("--aud", action="append", metavar="AUD", help="accepted audience (repeatable)")
    p.add_argument("--iss", action="append", metavar="ISS", help="accepted issuer (repeatable)")
    p.add_argument("--leeway", type=seconds, default=0.0, metavar="SECONDS", help="clock skew allowance (default: 0)")
    p.add_argument(
        "--at", metavar="TIME", help="judge every line as of this time (epoch seconds or ISO 8601) instead of its own"
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="per-line records: .jsonl, .csv or .parquet (.gz for JSONL/CSV); never one of the inputs "
        "(refused, by any path to it, before anything is written). In CSV every text cell "
        "is quoted, and one that starts with = + - @, tab or carriage return (a formula to a "
        "spreadsheet) gets a leading ' (OWASP CSV injection)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--top", type=int, default=5, metavar="N", help="top issuers, kids and subjects to show (default: 5)"
    )
    p.add_argument("--threads", type=int, metavar="N", help="verification threads (default: all available cores)")
    p.add_argument(
        "--chunk-size",
        type=int,
        default=65536,
        metavar="N",
        help="lines per chunk: memory use and the granularity of --out on interrupt (default: 65536)",
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run on a Dask cluster (the dask extra): a scheduler address (tcp://host:8786), or 'local' for a "
        "LocalCluster of one single-threaded worker per core. Each file is one task; the workers read the files "
        "by their absolute paths; --out is then a directory, one Parquet file per input, named after it; "
        "--threads is per task (default 1)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it is shown only on a terminal)")
    p.set_defaults(func=run)
    return p


class UsageError(Exception):
    pass


# ---------------------------------------------------------------------------- set-up


def load_key(args: argparse.Namespace) -> tuple[Any, list[str] | None]:
    """The key argument for the batch engine, and algorithms the key material names."""
    if args.secret is not None:
        return args.secret, ["HS256"]
    if args.secret_env is not None:
        value = os.environ.get(args.secret_env)
        if value is None:
            raise UsageError(f"environment variable {args.secret_env} is not set")
        return value, ["HS256"]
    if args.jwks:
        from ..exceptions import PyJWKSetError
        from ..keyset import merge_jwks

        snapshots = [(path, _read_json_key(path, jwks=True)) for path in args.jwks]
        try:
            doc = merge_jwks(snapshots) if len(snapshots) > 1 else snapshots[0][1]
        except PyJWKSetError as e:
            raise UsageError(f"--jwks: {e}") from e
        return doc, _jwk_algorithms(doc)
    path = args.key
    data = _read(path)
    if data.lstrip().startswith(b"{"):
        doc = _read_json_key(path, jwks=False, data=data)
        return doc, _jwk_algorithms(doc)
    return data.decode("utf-8", "replace"), None


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from e


def _read_json_key(path: str, *, jwks: bool, data: bytes | None = None) -> dict[str, Any]:
    """A JWK or (``jwks``) a JWKS document read from ``path``."""
    try:
        doc = json.loads(_read(path) if data is None else data)
    except ValueError as e:
        raise UsageError(f"{path} is not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: a JWK or JWKS must be a JSON object")
    if jwks and not isinstance(doc.get("keys"), list):
        raise UsageError(f"{path}: a JWKS needs a 'keys' list")
    return doc


def _jwk_algorithms(doc: dict[str, Any]) -> list[str] | None:
    """The algorithms a JWK or JWKS document names (its keys' ``alg``), or None."""
    keys = doc.get("keys")
    jwks: list[Any] = keys if isinstance(keys, list) else [doc]
    algs = sorted({k["alg"] for k in jwks if isinstance(k, dict) and isinstance(k.get("alg"), str)})
    return algs or None


def same_file_as_output(out: str, sources: list[str]) -> str | None:
    """The source that ``out`` names too (the same path, a symlink, another path or a hard
    link to it, or the file stdin reads), or None. Opening the writer would empty it."""
    real = os.path.realpath(out)
    try:
        st = os.stat(out)
    except OSError:
        st = None  # no such file yet: only a path that resolves alike can name it
    for source in sources:
        if source == "-":
            try:
                other = os.fstat(sys.stdin.fileno())
            except (OSError, ValueError, AttributeError):
                continue
        else:
            if os.path.realpath(source) == real:
                return source
            try:
                other = os.stat(source)
            except OSError:
                continue
        if st is not None and (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            return source
    return None


# ---------------------------------------------------------------------------- run


def run(args: argparse.Namespace) -> int:
    from ..logs.report import printable

    # pyarrow (Parquet in or out) imports numpy, whose OpenBLAS starts a pool of threads that
    # spin for a while on cores the verification uses; nothing here does linear algebra.
    # (The command runs in a process of its own, or in the caller of main().)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        return verify_logs(args)
    except UsageError as e:
        # One line, whatever the message quotes (file names, CSV headers, library errors).
        print(f"turbojwt verify-logs: {printable(e)}", file=sys.stderr)
        return EXIT_USAGE


def verify_logs(args: argparse.Namespace) -> int:
    from .. import log_sources, logs
    from ..batch import BatchEngine
    from ..exceptions import PyJWTError
    from ..logs.report import Summary

    if args.chunk_size < 1:
        raise UsageError("--chunk-size must be at least 1")
    if args.at is not None and args.time_field:
        raise UsageError("--at and --time-field exclude each other")
    if args.out:
        # (the key file too: '--jwks keys.json --out keys.json' would overwrite the keys)
        clash = same_file_as_output(args.out, [*args.sources, *([args.key] if args.key else []), *(args.jwks or [])])
        if clash is not None:
            shown = "stdin" if clash == "-" else clash
            raise UsageError(f"--out {args.out} is the input {shown}: writing the report would destroy it")
    at_all = None
    if args.at is not None:
        try:
            at_all = logs.parse_time(args.at)
        except ValueError as e:
            raise UsageError(f"--at: {e}") from e
    key, key_algs = load_key(args)
    algorithms = args.alg or key_algs
    if not algorithms:
        raise UsageError("name the allowed algorithms with --alg (e.g. --alg RS256)")
    audience = args.aud[0] if args.aud and len(args.aud) == 1 else args.aud
    issuer = args.iss[0] if args.iss and len(args.iss) == 1 else args.iss
    try:
        engine = BatchEngine(key, algorithms=algorithms, audience=audience, issuer=issuer, leeway=args.leeway)
    except (PyJWTError, ValueError, TypeError) as e:
        raise UsageError(f"key: {e}") from e
    if args.dask:
        return on_cluster(args, engine, at_all)
    formats = [log_sources.source_format(args, s) for s in args.sources]
    opened: list[Any] = []  # the files the readers opened, closed however the run ends
    extra = ("source",) if len(args.sources) > 1 else ()
    writer = None
    try:
        try:
            readers = [
                log_sources.verify_source(args, engine, s, f, at_all, opened) for s, f in zip(args.sources, formats)
            ]
        except log_sources.SourceError as e:
            raise UsageError(str(e)) from e
        if args.out:
            try:
                writer = logs.open_writer(args.out, extra)
            except ValueError as e:
                raise UsageError(str(e)) from e
            except OSError as e:
                raise UsageError(f"cannot write {args.out}: {e.strerror or e}") from e
    except BaseException:
        log_sources.close_all(opened)
        raise

    summary = Summary(args.leeway)
    progress = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(unit=" lines", unit_scale=True, file=sys.stderr, desc="verify-logs")
    started = time.perf_counter()
    interrupted = False
    part: Summary | None = None
    try:
        for source, chunks in zip(args.sources, readers):
            # (each file tallied apart and merged, as a cluster's files are: one way to a summary)
            part = summary.part()
            blocks = iter(chunks)
            while True:
                try:
                    block = next(blocks)
                except StopIteration:
                    break
                except (logs.ReadError, OSError, ValueError) as e:
                    # A truncated .gz, a disk error: the lines before it are verified (and in
                    # --out, which is closed whole below); the run ends here, with exit 2.
                    kept = f"; {args.out} holds the records of every line before it" if writer else ""
                    message = log_sources.failure_message(source, e)
                    raise UsageError(f"{message}{kept if isinstance(e, logs.ReadError) else ''}") from e
                lines, records = log_sources.tally_block(block, part, writer.fields if writer else None, source)
                if writer:
                    try:
                        writer.write(records)
                    except OSError as e:
                        raise UsageError(f"cannot write {args.out}: {e.strerror or e}") from e
                if progress:
                    progress.update(lines)
            summary.merge(part)
            part = None
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if part is not None:  # (the chunks of the file the run stopped in)
            summary.merge(part)
        log_sources.close_all(opened)
        if progress:
            progress.close()
        if writer:
            try:
                writer.close()
            except OSError as e:
                raise UsageError(f"cannot write {args.out}: {e.strerror or e}") from e
    return finish(args, summary, time.perf_counter() - started, interrupted)


def finish(args: argparse.Namespace, summary: Any, seconds: float, interrupted: bool) -> int:
    """Prints the summary of the run; its exit status."""
    from ..logs.report import print_summary

    report = summary.as_dict(args.top, seconds)
    if args.json:
        report["interrupted"] = interrupted
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        print_summary(report)
        if interrupted:
            print("\ninterrupted: the output holds every complete chunk before the interrupt", file=sys.stderr)
    if interrupted:
        return 130
    return EXIT_ALL_VALID if report["lines"] == report["valid"] else EXIT_SOME_INVALID


def on_cluster(args: argparse.Namespace, engine: Any, at_all: float | None) -> int:
    """``--dask ADDRESS``: each file one task on the cluster's workers (``turbojwt.dask``),
    the summary merged from theirs, ``--out`` a directory of one Parquet file per input."""
    try:
        from .. import dask as turbojwt_dask
    except ImportError as e:  # pragma: no cover - the dask extra is missing
        raise UsageError(f"--dask needs the dask extra (pip install 'turbojwt[dask]'): {e}") from e
    from ..log_sources import SourceOptions
    from ..logs.report import Summary

    if "-" in args.sources:
        raise UsageError("--dask reads files by their paths on the workers: stdin cannot be one")
    # (the workers may run elsewhere: absolute paths, which they must see as well)
    paths = [os.path.abspath(s) for s in args.sources]
    if args.out:
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise UsageError(f"--out {args.out}: with --dask, --out is a directory (one Parquet file per input)")
        try:
            names = turbojwt_dask.part_names(paths)
        except ValueError as e:
            raise UsageError(f"--out: {e}") from e
        for name in names:
            clash = same_file_as_output(os.path.join(args.out, name), args.sources)
            if clash is not None:
                raise UsageError(f"--out {args.out}/{name} is the input {clash}: writing the report would destroy it")
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot write {args.out}: {e.strerror or e}") from e
    options = SourceOptions(
        args.format,
        args.token_field,
        args.time_field,
        args.column,
        args.token_regex,
        args.threads or 1,
        args.chunk_size,
    )
    summary = Summary(args.leeway)
    progress = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(total=len(paths), unit=" files", file=sys.stderr, desc="verify-logs (dask)")

    def done(lines: int) -> None:
        if progress is not None:
            progress.update(1)
            progress.set_postfix(lines=f"{summary.lines + lines:,}")

    started = time.perf_counter()
    interrupted = False
    try:
        with turbojwt_dask.cluster_client(args.dask) as client:
            turbojwt_dask.verify_log_parts(
                client, paths, engine, options, summary, at=at_all, out_dir=args.out, progress=done
            )
    except KeyboardInterrupt:
        interrupted = True
    except ValueError as e:
        kept = f"; the parts of the files done before are kept in {args.out}" if args.out else ""
        raise UsageError(f"{e}{kept}") from e
    except (OSError, TimeoutError) as e:
        raise UsageError(f"the Dask cluster at {args.dask}: {e}") from e
    finally:
        if progress is not None:
            progress.close()
    return finish(args, summary, time.perf_counter() - started, interrupted)
