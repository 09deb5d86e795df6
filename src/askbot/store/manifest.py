"""The manifest: what an index was built with, so a mismatched reader refuses it instead of lying."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from askbot.types import IndexInfo

FORMAT_VERSION = 2  # 2: segments (an index's manifest names them, each segment has its own); 1: one generation
READABLE_FORMATS = (1, 2)  # a format-1 index is read as one segment and migrated by its first write
MANIFEST = "manifest.json"


class IndexMismatch(RuntimeError):
    """The index on disk was built with another model, normalizer or format."""


class IndexCorrupt(RuntimeError):
    """A file of the index is missing, truncated or garbled."""


class StoreUnavailable(RuntimeError):
    """The store cannot be reached: a backend's client library is missing, or its server does not answer."""


@dataclass
class Manifest:
    model_id: str
    model_fingerprint: str
    dim: int
    normalizer_version: str
    chunking: str
    format: int = FORMAT_VERSION
    articles: int = 0
    passages: int = 0
    next_passage_id: int = 0
    built: str = ""
    files: dict[str, dict[str, int | str]] = field(default_factory=dict)  # name -> {"bytes", "sha256"}
    # an index's manifest: its live segments, each {"name": "seg-000012", "dead": [article ids deleted since]}
    segments: list[dict[str, object]] = field(default_factory=list)
    segments_sha256: str = ""  # of ``segments``: a garbled tombstone would silently bring an article back

    def seal(self) -> None:
        self.segments_sha256 = _digest(self.segments)

    def info(self, location: str, backend: str, generation: str, segments: int = 1) -> IndexInfo:
        """What this manifest says of the index, as ``kb.info()`` reports it."""
        return IndexInfo(
            location=location,
            backend=backend,
            articles=self.articles,
            passages=self.passages,
            model=self.model_id,
            dim=self.dim,
            normalizer=self.normalizer_version,
            chunking=self.chunking,
            built=self.built,
            generation=generation,
            segments=segments,
        )

    def save(self, directory: Path) -> None:
        write_atomic(directory / MANIFEST, json.dumps(asdict(self), ensure_ascii=False, indent=2).encode())

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorrupt(f"{path} is unreadable ({exc})") from exc
        if not manifest._well_formed():
            raise IndexCorrupt(f"{path} is garbled: a field has the wrong type")
        return manifest

    def _well_formed(self) -> bool:
        numbers = (self.format, self.dim, self.articles, self.passages, self.next_passage_id)
        return (
            all(type(n) is int for n in numbers)
            and isinstance(self.segments, list)
            and all(
                isinstance(s, dict)
                and isinstance(s.get("name"), str)
                and isinstance(s.get("dead"), list)
                and all(isinstance(a, str) for a in s["dead"])  # type: ignore[attr-defined]
                for s in self.segments
            )
            and self.segments_sha256 == (_digest(self.segments) if self.segments_sha256 or self.segments else "")
            and isinstance(self.files, dict)
            and all(
                isinstance(f, dict) and type(f.get("bytes")) is int and isinstance(f.get("sha256"), str)
                for f in self.files.values()
            )
        )

    def refuse_if_incompatible(
        self, model_id: str, fingerprint: str, normalizer_version: str | None, where: str | Path
    ) -> None:
        """Raise IndexMismatch unless this index was built like this askbot builds (``None``: any normalizer)."""
        problems = []
        if self.format not in READABLE_FORMATS:
            problems.append(f"index format {self.format} (this askbot writes {FORMAT_VERSION})")
        if self.model_id != model_id:
            problems.append(f"model {self.model_id!r} (this askbot is set to {model_id!r})")
        elif self.model_fingerprint != fingerprint:
            problems.append(
                f"other weights of model {self.model_id!r} (fingerprint {self.model_fingerprint[:12]}, "
                f"these are {fingerprint[:12]})"
            )
        if normalizer_version is not None and self.normalizer_version != normalizer_version:
            problems.append(f"text rules v{self.normalizer_version} (this askbot has v{normalizer_version})")
            if len(problems) == 1:
                raise IndexMismatch(
                    f"the index in {where} was built with " + problems[0] + ". Re-tokenize it (vectors are kept, "
                    f"takes seconds): askbot index --relex --index {where}"
                )
        if problems:
            raise IndexMismatch(
                f"the index in {where} was built with " + " and ".join(problems) + ". "
                f"Rebuild it with: askbot index --rebuild --index {where} PATH... "
                f"(or choose the model it was built with: --model {self.model_id})"
            )


def _digest(segments: list[dict[str, object]]) -> str:
    return hashlib.sha256(json.dumps(segments, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
