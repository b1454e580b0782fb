"""The straightforward PyJWT script that `turbojwt verify-logs` is compared with: read a
JSON-lines log, verify each line's token as of the line's request time, count outcomes and
top issuers/kids/subjects, optionally write one JSON record per line.

    python benchmarks/pyjwt_verify_logs.py LOG.jsonl --token-field http.authorization \
        --time-field time --secret SECRET --aud api [--out records.jsonl]

PyJWT has no "as of" parameter, so the request time is applied the usual way: verify the
signature and claims with exp/nbf/iat checks off, then compare them with the request time.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import jwt


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("log")
    p.add_argument("--token-field", required=True)
    p.add_argument("--time-field")
    p.add_argument("--secret", required=True)
    p.add_argument("--alg", default="HS256")
    p.add_argument("--aud")
    p.add_argument("--iss")
    p.add_argument("--out")
    args = p.parse_args()

    started = time.perf_counter()
    outcomes: Counter[str] = Counter()
    issuers: Counter[str] = Counter()
    kids: Counter[str] = Counter()
    subjects: Counter[str] = Counter()
    out = open(args.out, "w") if args.out else None  # noqa: SIM115 (the plain script, as users write it)
    path = args.token_field.split(".")
    with open(args.log, "rb") as f:
        for n, line in enumerate(f, 1):
            record = {"line": n, "valid": False, "error": None, "reason": None}
            try:
                obj = json.loads(line)
                value = obj
                for part in path:
                    value = value[part]
                token = value.removeprefix("Bearer ").strip()
                at = float(obj[args.time_field]) if args.time_field else time.time()
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                record.update(error="malformed", reason=str(e))
                outcomes["malformed"] += 1
            else:
                try:
                    header = jwt.get_unverified_header(token)
                    claims = jwt.decode(
                        token,
                        args.secret,
                        algorithms=[args.alg],
                        audience=args.aud,
                        issuer=args.iss,
                        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
                    )
                    if "exp" in claims and int(claims["exp"]) <= at:
                        raise jwt.ExpiredSignatureError("Signature has expired")
                    if "nbf" in claims and int(claims["nbf"]) > at:
                        raise jwt.ImmatureSignatureError("The token is not yet valid (nbf)")
                    record.update(
                        valid=True,
                        iss=claims.get("iss"),
                        sub=claims.get("sub"),
                        kid=header.get("kid"),
                        exp=claims.get("exp"),
                    )
                    outcomes["valid"] += 1
                    issuers[claims.get("iss")] += 1
                    kids[header.get("kid")] += 1
                    subjects[claims.get("sub")] += 1
                except jwt.PyJWTError as e:
                    record.update(error=type(e).__name__, reason=str(e))
                    outcomes[type(e).__name__] += 1
            if out:
                out.write(json.dumps(record) + "\n")
    if out:
        out.close()
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "outcomes": dict(outcomes),
                "top_issuers": issuers.most_common(5),
                "top_kids": kids.most_common(5),
                "top_subjects": subjects.most_common(5),
                "seconds": round(seconds, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
