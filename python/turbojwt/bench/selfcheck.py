"""Checks adapters against every algorithm: ``python -m turbojwt.bench.selfcheck [NAME ...]``.

For each adapter, algorithm and key form it prints ok (the claims come back equal and
every forged token is refused), the Unsupported reason, or the failure.
"""

from __future__ import annotations

import sys

from .adapters import KEY_FORMS, Unsupported, all_adapters
from .harness import check_decoder, check_encoder
from .material import ALGORITHMS, make_cases


def main(names: list[str]) -> int:
    adapters = all_adapters()
    cases = make_cases(ALGORITHMS)
    bad = 0
    for name in names or list(adapters):
        adapter = adapters[name]
        try:
            adapter.load()
        except ImportError as e:
            print(f"{name}: not installed ({e})")
            continue
        for alg, case in cases.items():
            for form in KEY_FORMS:
                try:
                    problem = check_decoder(adapter.decoder(case, form), case)
                except Unsupported as e:
                    problem = f"unsupported: {e}"
                except Exception as e:  # noqa: BLE001
                    problem = f"FAILED to set up: {type(e).__name__}: {e}"
                bad += problem is not None and not problem.startswith("unsupported")
                print(f"{name:18} {alg:6} decode/{form:8} {problem or 'ok'}")
            try:
                problem = check_encoder(adapter.encoder(case), case)
            except Unsupported as e:
                problem = f"unsupported: {e}"
            except Exception as e:  # noqa: BLE001
                problem = f"FAILED to set up: {type(e).__name__}: {e}"
            bad += problem is not None and not problem.startswith("unsupported")
            print(f"{name:18} {alg:6} encode          {problem or 'ok'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
