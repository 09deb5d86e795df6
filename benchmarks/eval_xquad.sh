#!/usr/bin/env bash
# The retrieval yardstick: XQuAD-ar paragraphs among 2,000 ANT news articles, Arabic then English questions.
# Then the same with half the paragraphs left out (abstention). The index is kept in $INDEX, so the English run
# (and any rerun) embeds nothing; results go to $OUT.
# Extra arguments go to both runs (e.g. --methods bm25,dense,hybrid,hybrid-rrf).
# $DATA is the folder with news/ and xquad-ar/ (default ../shared/data beside the clone).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=passive
DATA=${DATA:-../shared/data}
for f in news/ant-v2.1.jsonl.gz xquad-ar/xquad.ar.json xquad-ar/xquad.en.json; do
    [[ -f "$DATA/$f" ]] || { echo "missing data file $DATA/$f: set DATA=DIR (the folder with news/ and xquad-ar/)" >&2; exit 2; }
done
INDEX=${INDEX:-/tmp/evalidx}
OUT=${OUT:-/tmp/askbot-eval}
mkdir -p "$OUT"
common=(--distractors "$DATA/news/ant-v2.1.jsonl.gz" --sample 2000 --seed 0 --index "$INDEX" --json "$@")
.venv/bin/askbot eval "$DATA/xquad-ar/xquad.ar.json" "${common[@]}" \
    --details "$OUT/xquad-ar.details.jsonl" > "$OUT/xquad-ar.json"
.venv/bin/askbot eval "$DATA/xquad-ar/xquad.en.json" --contexts "$DATA/xquad-ar/xquad.ar.json" "${common[@]}" \
    --details "$OUT/xquad-en.details.jsonl" > "$OUT/xquad-en.json"
# Abstention: the odd-numbered gold paragraphs left out (a copy of $INDEX made by removal, nothing re-embedded),
# so half the questions are unanswerable: found_unanswerable and false_answers beside the answerable half's figures.
.venv/bin/askbot eval "$DATA/xquad-ar/xquad.ar.json" "${common[@]}" --unanswerable odd \
    --details "$OUT/xquad-ar-odd.details.jsonl" > "$OUT/xquad-ar-odd.json"
.venv/bin/askbot eval "$DATA/xquad-ar/xquad.en.json" --contexts "$DATA/xquad-ar/xquad.ar.json" "${common[@]}" \
    --unanswerable odd --details "$OUT/xquad-en-odd.details.jsonl" > "$OUT/xquad-en-odd.json"
