"""Benchmarks: ratios against a baseline measured in the same run (`python -m bench`)."""


def print_rows(rows: list[tuple[str, str]]) -> None:
    """One benchmark's (what, result) rows as an aligned table."""
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
