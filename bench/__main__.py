"""`python -m bench [--quick] [--only NAME ...]`: print one table of ratios from one run."""

from __future__ import annotations

import argparse
import importlib
import traceback

from bench import print_rows

SUITES = (
    "treehash_bench", "transfer_bench", "inventory_bench", "ui_bench",
    "scroll_bench", "soak", "kill_resume", "load", "campaign_bench", "purge_bench",
)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    parser.add_argument("--only", nargs="*", choices=SUITES, help="run only these suites")
    args = parser.parse_args()
    failed = False
    rows: list[tuple[str, str]] = []
    for suite in args.only or SUITES:
        try:
            module = importlib.import_module(f"bench.{suite}")
        except ImportError as exc:
            rows.append((suite, f"not available: {exc}"))
            continue
        try:
            rows.extend(module.run(quick=args.quick))
        except Exception:
            failed = True
            rows.append((suite, "FAILED"))
            traceback.print_exc()
        print(f"\n== {suite}")
        print_rows(rows)
        rows = []
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
