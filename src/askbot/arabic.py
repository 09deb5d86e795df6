"""Every Arabic text rule in one place: normalization for matching, sentence spans, tokens, script detection."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar, cast

# Stored in the index manifest: bump whenever a rule below changes what normalize() or tokens() return.
NORMALIZER_VERSION = "1"


def _chars(*ranges: tuple[int, int]) -> list[int]:
    return [cp for lo, hi in ranges for cp in range(lo, hi + 1)]


# Removed before and after NFKC: harakat, Quranic marks, tatweel, zero-width and bidi controls.
# ZWNJ/ZWJ go too, so Persian "می‌خواهم" matches the common "میخواهم" spelling.
_DELETED = _chars(
    (0x0610, 0x061A),  # honorific signs and small high marks
    (0x061C, 0x061C),  # Arabic letter mark
    (0x0640, 0x0640),  # tatweel
    (0x064B, 0x065F),  # harakat, shadda, sukun, hamza above/below, ...
    (0x0670, 0x0670),  # superscript alef
    (0x06D6, 0x06ED),  # Quranic annotation signs
    (0x08D3, 0x08FF),  # extended Quranic marks
    (0x00AD, 0x00AD),  # soft hyphen
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x200B, 0x200F),  # zero-width space, ZWNJ, ZWJ, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x2069),  # bidi isolates
    (0xFEFF, 0xFEFF),  # BOM / zero-width no-break space
)

# Letter variants folded to one form. Standalone hamza ء is KEPT: dropping it would merge distinct words
# (جزء/جز, سماء/سما) while the hamza-on-carrier spellings it competes with are already folded below.
_FOLDED = {
    "إ": "ا", "أ": "ا", "آ": "ا", "ٱ": "ا", "ٲ": "ا", "ٳ": "ا", "ٵ": "ا",
    "ى": "ي", "ی": "ي", "ې": "ي", "ئ": "ي",
    "ة": "ه", "ۀ": "ه", "ۃ": "ه", "ہ": "ه", "ە": "ه",
    "ؤ": "و", "ٶ": "و",
    "ک": "ك", "ڪ": "ك",
    "٫": ".", "٬": ",", "٪": "%",
}  # fmt: skip
_DIGITS = {chr(0x0660 + i): str(i) for i in range(10)} | {chr(0x06F0 + i): str(i) for i in range(10)}
_FOLD_MAP = dict.fromkeys(map(chr, _DELETED), "") | _FOLDED | _DIGITS

# Regex passes, not str.translate: most characters stay as they are, and a scan is ~10x faster than a table.
_DELETE = re.compile("[" + "".join(map(re.escape, map(chr, _DELETED))) + "]")
_FOLD = re.compile("[" + "".join(map(re.escape, _FOLD_MAP)) + "]")


def _fold(match: re.Match[str]) -> str:
    return _FOLD_MAP[match.group()]


# Answering one question folds the same few hundred sentences several times over (the reranker, the sentence
# marker and the not-found evidence each read them): remembering the last TEXT_CACHE results for texts up to
# CACHED_CHARS long (a passage; whole articles are worked afresh) cuts askbot's own CPU a question by about a third.
TEXT_CACHE = 4096
CACHED_CHARS = 2000
_F = TypeVar("_F", bound=Callable[..., Any])


def remembered(function: _F) -> _F:
    """``function`` of a text (then other hashable arguments), its results for short texts remembered; it must
    return something immutable."""
    cached = functools.lru_cache(maxsize=TEXT_CACHE)(function)

    @functools.wraps(function)
    def call(text: str, *args: Any, **kwargs: Any) -> Any:
        return (cached if len(text) <= CACHED_CHARS else function)(text, *args, **kwargs)

    return cast(_F, call)


@remembered
def normalize(text: str) -> str:
    """Fold ``text`` for matching only (never for display): idempotent, never raises on any ``str``."""
    for _ in range(3):
        text = _FOLD.sub(_fold, unicodedata.normalize("NFKC", _DELETE.sub("", text)).lower())
        text = " ".join(text.split())
        # Folding can leave a sequence NFKC would still change (a Latin letter meeting a combining accent
        # once a tatweel between them is gone); another pass settles it. Real text never needs one.
        if unicodedata.is_normalized("NFKC", text):
            break
    return text


def strip_marks(text: str) -> str:
    """``text`` without harakat, tatweel, Quranic marks and invisible controls; letters (hamza forms too) kept."""
    return _DELETE.sub("", text)


def _word_set(words: str) -> frozenset[str]:
    return frozenset(normalize(w) for w in words.split())


# --- sentences ---------------------------------------------------------------------------------------

_TERMINATORS = ".!?؟؛…"
_CLOSERS = "\"'»”’)]}›"
_BOUNDARY = re.compile(rf"[{re.escape(_TERMINATORS)}]+[{re.escape(_CLOSERS)}]*")
_LINE_BREAKS = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_WORD_BEFORE = re.compile(r"[^\W\d_]+$")
_LIST_MARKER = re.compile(r"\s*(?:\d{1,3}|[ivx]{1,4})\s*", re.IGNORECASE)
_ARABIC_LETTER = re.compile(r"[\u0621-\u064A\u0671-\u06D3\u06FA-\u06FF]")
# Words that end with a period without ending a sentence. Single letters ("U.S.", "د.", "أ.") are handled by
# rule; Arabic spellings of Latin letters ("سي. إن. إن." for CNN) are listed, normalized.
ABBREVIATIONS = _word_set(
    "mr mrs ms dr prof st jr sr vs etc approx inc ltd co corp gen col lt sgt gov sen rep dept est fig no vol "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "إيه بي سي دي إي إف جي إتش آي جيه جاي كيه كاي إل إم إن أو كيو آر إس تي يو في دبليو إكس واي زد"
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence boundaries as ``(start, end)`` offsets into ``text``, whitespace-trimmed, covering all of it."""
    return list(_sentence_spans(text))


@remembered
def _sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    cuts = {m.start() for m in _LINE_BREAKS.finditer(text)}
    cuts.update(m.end() for m in _BOUNDARY.finditer(text) if _ends_sentence(text, m))
    spans: list[tuple[int, int]] = []
    start = 0
    for cut in [*sorted(cuts), len(text)]:
        spans.extend(_trimmed(text, start, cut))
        start = cut
    return tuple(spans)


def _trimmed(text: str, start: int, end: int) -> list[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if start < end else []


def _ends_sentence(text: str, m: re.Match[str]) -> bool:
    end = m.end()
    after = text[end] if end < len(text) else ""
    # "هل عاد؟نعم": a glued "؟", "!" or "؛" between Arabic words still ends a sentence; a glued "." does not
    # ("العربية.نت", "سي.إن.إن" are far commoner than a missing space).
    glued = (
        "." not in m.group()
        and _ARABIC_LETTER.match(after)
        and _ARABIC_LETTER.match(text[m.start() - 1 : m.start()] or " ")
    )
    if after and not after.isspace() and not glued:
        return False
    if m.group().rstrip(_CLOSERS) != ".":
        return True  # "!", "؟", "...", "…", "؛" always end one
    return not _is_abbreviation(text, m.start(), end)


def _is_abbreviation(text: str, dot: int, end: int) -> bool:
    window = max(0, dot - 64)
    newline = text.rfind("\n", window, dot)
    before = text[newline + 1 if newline >= 0 else window : dot]
    if (newline >= 0 or window == 0) and _LIST_MARKER.fullmatch(before):
        return True  # "1." or "iv." opening a line
    word = _WORD_BEFORE.search(before)
    if word is not None:
        letters = word.group().strip("\u0640")
        if len(letters) == 1 or normalize(letters) in ABBREVIATIONS:
            return True
    following = text[end : end + 64].lstrip()
    return bool(following) and following[0].isascii() and following[0].islower()


# --- tokens --------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+")
_ARABIC_TOKEN = re.compile(r"[\u0600-\u06FF]")

# Light stemming after Larkey, Ballesteros & Connell's "light10" (the usual Arabic IR baseline), on
# normalized tokens (so ة is already ه and ى is ي). Each affix: (affix, shortest stem allowed to remain).
_PREFIXES = (("وال", 2), ("بال", 2), ("كال", 2), ("فال", 2), ("لل", 2), ("ال", 2))
_SUFFIXES = (
    ("هما", 3), ("ها", 2), ("هم", 3), ("كم", 3), ("كن", 3), ("نا", 3),
    ("ان", 2), ("ات", 2), ("ون", 2), ("ين", 2), ("يه", 2), ("ه", 2), ("ي", 2),
)  # fmt: skip


@functools.lru_cache(maxsize=1 << 18)  # a news vocabulary is Zipfian: most calls are repeats
def stem(token: str) -> str:
    """Light-stem one normalized Arabic token (light10 affixes); other tokens come back unchanged."""
    if not _ARABIC_TOKEN.match(token):
        return token
    if token.startswith("و") and len(token) - 1 >= 3:
        token = token[1:]
    for prefix, keep in _PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= keep:
            token = token[len(prefix) :]
            break
    for suffix, keep in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= keep:
            token = token[: -len(suffix)]
    return token


# Function words only; question words (متى، أين، كيف) are kept out of lexical matching too, since a question
# carries them and an article rarely does in the same sense.
STOPWORDS = _word_set(
    """
    في من على إلى الى عن مع أن إن ان كان كانت يكون التي الذي الذين اللذين اللتين اللواتي هذا هذه هذان
    ذلك تلك هؤلاء أولئك هو هي هم هما هن أنا نحن أنت أنتم ما ماذا متى أين كيف لماذا هل لا لم لن قد كما أو أم
    ثم بين حتى بعد قبل عند عندما كل أي أيضا إذا اذا لكن بل غير منذ خلال حيث ضمن لدى وفي ومن وعلى وإلى وعن
    وأن وإن وقد ولا ولم وهو وهي وكان به بها له لها فيه فيها منه منها عليه عليها إليه اليه التى الذى
    a an the of to in on at for and or is are was were be been being by with from that this these those it
    its as what when where who whom how why which did does do not no but if into about than then there
    """
)


def tokens(text: str, stem: bool = False, drop_stopwords: bool = False) -> list[str]:
    """Normalized word tokens of ``text`` for lexical search; optionally without stopwords, light-stemmed."""
    found = _TOKEN.findall(normalize(text))
    if drop_stopwords:
        found = [t for t in found if t not in STOPWORDS]
    if stem:
        found = [_stem(t) for t in found]
    return found


_stem = stem  # tokens() takes a ``stem`` flag that shadows the function inside it


# --- script ---------------------------------------------------------------------------------------------

_ARABIC_SCRIPT = re.compile(r"[\u0620-\u064A\u066E-\u06D3\u06D5\u06EE-\u06FF\u0750-\u077F\u08A0-\u08C9]")
_PERSIAN_ONLY = re.compile(r"[پچژگکی]")
_ARABIC_ONLY = re.compile(r"[ةىيكؤئإأ]")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")


def content_words(text: str) -> list[str]:
    """Normalized, stemmed content words: what sentence marking and coverage weigh."""
    return list(_content_words(text))


@remembered
def _content_words(text: str) -> tuple[str, ...]:
    return tuple(tokens(text, stem=True, drop_stopwords=True))


def lexical_terms(text: str) -> list[str]:
    """The lexical (BM25) view of a text: its content words, then each adjacent pair of them.

    Pairs ("قاسم_اعرجي") reward passages where the question's words stand together, as in names; on the
    XQuAD-ar dev yardstick they lifted hybrid R@1 from 0.898 to 0.904 (benchmarks/tune_fusion.py).
    """
    single = content_words(text)
    return single + [f"{a}_{b}" for a, b in zip(single, single[1:], strict=False)]


def script_of(text: str) -> str:
    """The main script of ``text``: "ar", "fa" (Persian letters outnumber Arabic-only ones), "latin" or "other"."""
    text = text[:5000]
    arabic = len(_ARABIC_SCRIPT.findall(text))
    latin = len(_LATIN.findall(text))
    letters = sum(1 for ch in text if ch.isalpha())
    if arabic and arabic >= latin and 2 * arabic >= letters:
        return "fa" if len(_PERSIAN_ONLY.findall(text)) > len(_ARABIC_ONLY.findall(text)) else "ar"
    if latin and 2 * latin >= letters:
        return "latin"
    return "other"
