"""Generate a deterministic synthetic Glacier inventory with mixed description formats.

Usage: python bench/gen_inventory.py N OUT.json [--csv]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
WORDS = ("photos", "backup", "projects", "music", "docs", "2019", "2020", "2021", "raw",
         "holiday", "taxes", "archive", "video", "src", "misc", "été", "données")


def _folders(count: int = 2000, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    out = [""]
    while len(out) < count:
        parent = rng.choice(out)
        if parent.count("/") < 5:
            out.append(f"{parent}/{rng.choice(WORDS)}{rng.randrange(9)}".lstrip("/"))
    return out


FOLDERS = _folders()  # a fixed pool of ~2,000 folders whatever N is: realistic fan-out


def _path(rng: random.Random, i: int) -> str:
    folder = FOLDERS[rng.randrange(len(FOLDERS))]
    name = f"file-{i:07d}.{rng.choice(('jpg', 'tar.gz', 'pdf', 'mkv'))}"
    return f"{folder}/{name}" if folder else name


def _description(rng: random.Random, i: int) -> str:
    p = _path(rng, i)
    kind = i % 10
    mtime = f"20{10 + i % 14:02d}0{1 + i % 9}1{i % 10}T1{i % 10}2{i % 10}3{i % 10}Z"
    if kind < 5:  # mt-aws-glacier is the commonest in the wild
        doc = json.dumps({"filename": p, "mtime": mtime}, ensure_ascii=False,
                         separators=(",", ":"))
        return "mt2 " + base64.urlsafe_b64encode(doc.encode()).rstrip(b"=").decode()
    if kind == 5:
        b64 = base64.b64encode(p.encode()).decode()
        return f"<m><v>4</v><p>{b64}</p><lm>{mtime}</lm><ce>0:0:{'0' * 32}:{i}</ce></m>"
    if kind == 6:
        utf7 = p.encode("utf-7").decode("ascii")
        return json.dumps({"Path": utf7, "UTCDateModified": mtime, "Flags": 0})
    if kind == 7:
        return json.dumps({"path": "/" + p, "type": "file"})
    if kind == 8:
        return "" if i % 50 == 8 else p
    return p.encode("ascii", "replace").decode()


def archives(n: int, seed: int = 7) -> Iterator[dict[str, object]]:
    rng = random.Random(seed)
    for i in range(n):
        aid = "".join(rng.choices(_ID_ALPHABET, k=138))
        yield {
            "ArchiveId": aid,
            "ArchiveDescription": _description(rng, i),
            "CreationDate": f"20{12 + i % 12:02d}-0{1 + i % 9}-1{i % 10}T12:{i % 60:02d}:07Z",
            "Size": rng.randrange(1, 1 << 34) if i % 1000 else 4096,
            "SHA256TreeHash": f"{rng.getrandbits(256):064x}" if i % 1000 else "ab" * 32,
        }


def write_json(n: int, out: IO[str]) -> None:
    out.write('{"VaultARN":"arn:aws:glacier:us-east-1:123456789012:vaults/bench",'
              '"InventoryDate":"2024-08-01T14:30:07Z","ArchiveList":[')
    for i, a in enumerate(archives(n)):
        out.write(("," if i else "") + json.dumps(a, separators=(",", ":")))
    out.write("]}")


def _csv_field(s: str) -> str:
    if "," in s or '"' in s:
        return '"' + s.replace('"', '\\"') + '"'
    return s


def write_csv(n: int, out: IO[str]) -> None:
    out.write("ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n")
    for a in archives(n):
        out.write(f"{a['ArchiveId']},{_csv_field(str(a['ArchiveDescription']))},"
                  f"{a['CreationDate']},{a['Size']},{a['SHA256TreeHash']}\n")


def generate(n: int, path: Path, csv: bool = False) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        (write_csv if csv else write_json)(n, f)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("n", type=int)
    ap.add_argument("out", type=Path)
    ap.add_argument("--csv", action="store_true")
    a = ap.parse_args(argv)
    generate(a.n, a.out, a.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
