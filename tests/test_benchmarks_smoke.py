"""The benchmark scripts run end to end on a few seed articles, so a refactor cannot break them silently."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_store_writes_runs_on_seed_articles(tmp_path, capsys):
    bench = _load("store_writes")
    args = ["--news", str(ROOT / "seeds" / "ant-sample.jsonl"), "--work", str(tmp_path), "--smoke"]
    args += ["--hold-out", "12", "--add", "4", "--remove", "3", "--small-adds", "4", "--asks", "3", "--cold", "1"]
    assert bench.main(["both", *args]) == 0
    out = capsys.readouterr().out
    built, measured = (json.loads(part) for part in out.replace("}\n{", "}\n\x00{").split("\x00"))
    assert built["articles"] == 228 and built["passages"] > 228
    assert measured["add"]["passages"] > 0 and 0 < measured["add"]["share_of_index"] < 1
    assert measured["small_adds"]["count"] == 4
    assert measured["warm_segmented"]["segments"] == 1 + 1 + 4  # the base, the add, the small adds
    assert measured["compact"]["segments_after"] == 1 and measured["warm_merged"]["segments"] == 1
    assert measured["add_standin_vectors"]["passages"] == measured["add"]["passages"]
    assert measured["ask_p95_ratio"] > 0 and measured["cold_segmented_median_s"] > 0


def test_data_options_default_under_data_and_a_missing_file_is_one_line(tmp_path):
    shared_data = _load("shared_data")
    parser = argparse.ArgumentParser()
    shared_data.add_options(parser, news=shared_data.NEWS, xquad=shared_data.XQUAD_AR)
    args = shared_data.resolve(parser.parse_args(["--data", str(tmp_path), "--xquad", "q.json"]))
    assert args.news == tmp_path / "news" / "ant-v2.1.jsonl.gz" and args.xquad == Path("q.json")
    assert shared_data.resolve(parser.parse_args([])).news == ROOT.parent / "shared" / "data" / shared_data.NEWS
    with pytest.raises(SystemExit, match=r"^missing data file .*ant-v2\.1\.jsonl\.gz: give --news FILE, or --data DIR"):
        shared_data.need(args.news, "--news")
    args.news.parent.mkdir()
    args.news.write_bytes(b"")
    assert shared_data.need(args.news, "--news") == args.news
