#!/usr/bin/env bash
# Cold `askbot ask` in fresh processes, RUNS times: wall and CPU (user+sys) medians. With BASE_SRC set (another
# checkout's src/, e.g. `git worktree add /tmp/base OLDREV` then BASE_SRC=/tmp/base/src), that code runs
# interleaved with this one, run by run, so both see the same load.
#   benchmarks/cold_ask.sh [RUNS] [INDEX]      (defaults: 7, vectors/)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=passive
RUNS=${1:-7}
INDEX=${2:-vectors}
QUESTION=${QUESTION:-من وقّع المحضر الأمني المشترك مع شمخاني؟}
TIMES=$(mktemp)
trap 'rm -f "$TIMES"' EXIT
sides=(this)
[ -n "${BASE_SRC:-}" ] && sides=(base this)
.venv/bin/askbot ask "$QUESTION" --index "$INDEX" > /dev/null || [ $? -eq 1 ]  # builds what a first run builds; 1: not found
for _ in $(seq "$RUNS"); do
    for side in "${sides[@]}"; do
        src=$PWD/src
        [ "$side" = base ] && src=$BASE_SRC
        /usr/bin/time -a -o "$TIMES" -f "$side %e %U %S" env PYTHONPATH="$src" .venv/bin/askbot ask "$QUESTION" \
            --index "$INDEX" > /dev/null 2>&1
    done
done
python3 - "$TIMES" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if len(line.split()) == 4]
for side in dict.fromkeys(r[0] for r in rows):
    wall = [float(r[1]) for r in rows if r[0] == side]
    cpu = [float(r[2]) + float(r[3]) for r in rows if r[0] == side]
    print(f"{side}: cold askbot ask, {len(wall)} runs: wall median {statistics.median(wall):.2f} s "
          f"{wall}, CPU median {statistics.median(cpu):.2f} s")
PY
uptime
