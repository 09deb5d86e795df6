"""Reliability figures: SIGKILL trials on `askbot index` and `askbot compact`, property tests per target, bad input.

Runs the reliability tests with larger counts and summarizes what they tried and survived::

    python benchmarks/reliability.py --trials 50 --examples 100

The checks themselves live in tests/test_reliability.py and tests/test_bad_input.py; this script only raises
their counts (RELIABILITY_TRIALS, the hypothesis profile BAD_INPUT_PROFILE=reliability) and counts what ran.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KILL_TEST = "tests/test_reliability.py::test_sigkill_at_any_moment_leaves_the_old_or_the_new_index_whole"
MERGE_TEST = "tests/test_reliability.py::test_sigkill_during_a_merge_leaves_the_index_whole"  # trials // 2 kills
# "- 100 passing, 0 failing, and 3 invalid test cases" under each test's "- during <phase> phase" heading
_STATS_TEST = re.compile(r"^(tests/\S+::\S+):$")
_STATS_COUNTS = re.compile(r"- (\d+) passing, (\d+) failing, and (\d+) invalid")


@dataclass
class Run:
    """One pytest run: per-test outcome, hypothesis examples per test, wall time."""

    outcomes: dict[str, str]
    examples: dict[str, int]
    seconds: float
    output: str

    @property
    def failed(self) -> list[str]:
        return [name for name, outcome in self.outcomes.items() if outcome == "failed"]


def run_pytest(targets: list[str], env: dict[str, str]) -> Run:
    """Run pytest on ``targets`` with ``env`` added; collect outcomes (junit XML) and hypothesis statistics."""
    with tempfile.TemporaryDirectory() as folder:
        junit = Path(folder) / "junit.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:logging",
            "--hypothesis-show-statistics",
            f"--junitxml={junit}",
            *targets,
        ]
        started = time.monotonic()
        proc = subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
        seconds = time.monotonic() - started
        outcomes = {}
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
            failed = case.find("failure") is not None or case.find("error") is not None
            outcomes[name] = "failed" if failed else "skipped" if case.find("skipped") is not None else "passed"
    examples: dict[str, int] = collections.Counter()
    current = ""
    for line in proc.stdout.splitlines():
        if found := _STATS_TEST.match(line.strip()):
            current = found[1].split("::", 1)[1]
        elif (counts := _STATS_COUNTS.search(line)) and current:
            examples[current] += int(counts[1]) + int(counts[2])
    return Run(outcomes, dict(examples), seconds, proc.stdout + proc.stderr)


def kill_trials(trials: int) -> tuple[Run, list[dict[str, object]]]:
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as log:
        run = run_pytest([KILL_TEST, MERGE_TEST], {"RELIABILITY_TRIALS": str(trials), "RELIABILITY_LOG": log.name})
        records = [json.loads(line) for line in Path(log.name).read_text(encoding="utf-8").splitlines()]
    return run, records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50, help="SIGKILL trials (default 50)")
    parser.add_argument("--examples", type=int, default=100, help="hypothesis examples per property (default 100)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    print(f"askbot reliability: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    print(f"command: python benchmarks/reliability.py --trials {args.trials} --examples {args.examples}\n")

    kill, everything = kill_trials(args.trials)
    records = [r for r in everything if not r.get("merge")]
    merges = [r for r in everything if r.get("merge")]
    survived = sum(bool(r["survived"]) for r in records)
    killed = [r for r in records if r["phase"] != "finished"]
    print(
        f"kill trials (SIGKILL of `askbot index` on a copy of a 46-article index, adding 3 and changing 3): "
        f"{len(records)} run, {survived} survived, {len(killed)} killed before exiting ({kill.seconds:.0f} s)"
    )
    print("  survived = opens, check() == [], answers, and holds exactly the old or the new articles and vectors")
    for phase, count in collections.Counter(r["phase"] for r in records).most_common():
        print(f"  {count:4d} killed: {phase}")
    states = collections.Counter(str(r["state"]) for r in records)
    print(f"  state after the kill: {', '.join(f'{s} {n}' for s, n in states.most_common())}")
    followed = [r for r in records if r["next_writer"]]
    print(
        f"  next writer (same lock, abandoned generation swept) reached the new state: "
        f"{sum(bool(r['survived']) for r in followed)} of {len(followed)}"
    )

    merged = sum(bool(r["survived"]) for r in merges)
    print(
        f"kill trials during merges (SIGKILL of `askbot compact` on that index after the add: two segments, three "
        f"tombstones): {len(merges)} run, {merged} survived (same articles and vectors, check() == [], answers)"
    )
    for phase, count in collections.Counter(r["phase"] for r in merges).most_common():
        print(f"  {count:4d} killed: {phase}")

    others = run_pytest(["tests/test_reliability.py", "-k", "not sigkill"], {})
    bad = run_pytest(
        ["tests/test_bad_input.py"], {"BAD_INPUT_PROFILE": "reliability", "BAD_INPUT_EXAMPLES": str(args.examples)}
    )
    print(
        f"\nother reliability tests (locks, readers during writes, damaged files, disk full, pickles): "
        f"{sum(o == 'passed' for o in others.outcomes.values())} passed, {len(others.failed)} failed "
        f"({others.seconds:.0f} s)"
    )
    print("\nproperty-test examples run, per target:")
    for name, count in sorted({**others.examples, **bad.examples}.items()):
        print(f"  {count:5d}  {name}")
    property_examples = sum(bad.examples.values())
    limit_cases = sum(
        1 for name in bad.outcomes if name.split("::")[1].split("[")[0] not in {n.split("[")[0] for n in bad.examples}
    )
    crashes = len(bad.failed)
    print(
        f"\nbad-input cases tried: {property_examples + limit_cases} ({property_examples} property examples, "
        f"{limit_cases} limit and question cases); crashes {crashes}; articles lost "
        f"{'0 (checked after every kb.add)' if not crashes else 'see failures'} ({bad.seconds:.0f} s)"
    )
    failed = kill.failed + others.failed + bad.failed
    if failed:
        print("\nFAILED:", *failed, sep="\n  ")
        print(kill.output[-3000:] + others.output[-3000:] + bad.output[-3000:])
    return 1 if failed or survived < len(records) or merged < len(merges) else 0


if __name__ == "__main__":
    sys.exit(main())
