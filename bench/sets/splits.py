"""Assign the fixed dev/test split of a question set, stratified by question type.

    python bench/sets/splits.py bench/sets/multidoc.jsonl bench/sets/financebench-keys.jsonl

Records are grouped by stratum (``type``, and ``answerable`` where the set has it), sorted by id,
shuffled with a seeded generator of their own (``--seed``, default 0) and alternately put in dev and
test, so each type is split about half and half. The split is written into every record
(``"split": "dev" | "test"``) and the file is rewritten in place; running it again gives the same
split. Settings are tuned on dev only; published figures are on test.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any


def assign(records: list[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[f"{r.get('answerable', True)}:{r['type']}"].append(r)
    for stratum, group in sorted(groups.items()):
        group.sort(key=lambda r: r["id"])
        random.Random(f"{seed}:{stratum}").shuffle(group)
        for i, r in enumerate(group):
            r["split"] = "dev" if i % 2 == 0 else "test"
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for path in args.files:
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        assign(records, args.seed)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        dev = sum(r["split"] == "dev" for r in records)
        print(f"{path}: {dev} dev, {len(records) - dev} test")


if __name__ == "__main__":
    main()
