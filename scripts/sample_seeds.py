"""Draw the bundled news sample (seeds/ant-sample.jsonl) from the ANT corpus, reproducibly.

Usage: python scripts/sample_seeds.py [CORPUS.jsonl.gz] [N]
Takes N articles (default 240) spread evenly over sources, with random.Random(2023), keeping only
articles of 400..6000 characters so the sample reads like news and indexes in under a minute.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

corpus = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/news/ant-v2.1.jsonl.gz")
n = int(sys.argv[2]) if len(sys.argv) > 2 else 240
by_source: dict[str, list[dict]] = defaultdict(list)
with gzip.open(corpus, "rt", encoding="utf-8") as fh:
    for line in fh:
        row = json.loads(line)
        if 400 <= len(row.get("text", "")) <= 6000:
            by_source[row["source"]].append(row)
rng = random.Random(2023)
picked = []
sources = sorted(by_source)
for i, source in enumerate(sources):
    rows = by_source[source]
    rng.shuffle(rows)
    picked += rows[: n // len(sources) + (1 if i < n % len(sources) else 0)]
picked.sort(key=lambda r: r["published"])
out = Path("seeds/ant-sample.jsonl")
with out.open("w", encoding="utf-8") as fh:
    for row in picked:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
print(f"wrote {len(picked)} articles from {len(sources)} sources to {out}")
