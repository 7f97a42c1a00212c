"""Text normalisation, sentence splitting and word tokens for Thai and English."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from corpus.release import INVISIBLE, SPACES, THAI_DIGITS

# A segment that ends in an abbreviation ("H.E.", "Mrs.", "พ.ศ.", "ม.ค.", "ดร.", "ครม.")
# was cut by crfcut after the dot; it belongs with what follows.
_ABBREV_END = re.compile(
    r"(?:^|[\s(])(?:[A-Za-z]{1,4}\.|(?:[\u0e00-\u0e7f]{1,4}\.){1,4}|(?:[A-Za-z]\.){1,4})\s*$"
)
_EN_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9\u0e00-\u0e7f])")
_WORD = re.compile(r"\w", re.UNICODE)


def normalise(text: str) -> str:
    """NFC, no invisible characters, one kind of space, no runs of spaces."""
    text = unicodedata.normalize("NFC", text.translate(INVISIBLE).translate(SPACES))
    return re.sub(r" {2,}", " ", text)


def normalise_query(text: str) -> str:
    """A question as it is embedded and searched: normalised, Thai digits as Arabic."""
    return " ".join(normalise(text).translate(THAI_DIGITS).split())


def is_thai(text: str) -> bool:
    return any("\u0e00" <= ch <= "\u0e7f" for ch in text)


@lru_cache(maxsize=1)
def _crfcut():
    from pythainlp.tokenize import crfcut  # loads a CRF model: only on first use

    return crfcut


_CRF_WINDOW = 10_000  # crfcut grows faster than linearly: longer paragraphs go in windows


def _windows(paragraph: str, size: int) -> list[str]:
    """Consecutive pieces of at most ``size`` characters, cut at a space where possible."""
    out = []
    while len(paragraph) > size:
        cut = paragraph.rfind(" ", size // 2, size)
        cut = cut + 1 if cut > 0 else size
        out.append(paragraph[:cut])
        paragraph = paragraph[cut:]
    return [*out, paragraph] if paragraph else out


def split_segments(paragraph: str) -> list[str]:
    """Raw sentence segments of one paragraph: crfcut for Thai, punctuation for English."""
    if not paragraph.strip():
        return []
    if is_thai(paragraph):
        crfcut = _crfcut()
        return [seg for piece in _windows(paragraph, _CRF_WINDOW) for seg in crfcut.segment(piece)]
    cuts = [m.end() for m in _EN_SENTENCE_END.finditer(paragraph)]
    # keep the spaces with the segments, so that segments concatenate to the paragraph
    return [paragraph[a:b] for a, b in zip([0, *cuts], [*cuts, len(paragraph)], strict=True)]


def repair_segments(segments: list[str]) -> list[str]:
    """Merge segments cut after an abbreviation or too short to stand alone."""
    out: list[str] = []
    carry = ""
    for seg in segments:
        seg = carry + seg
        carry = ""
        stripped = seg.strip()
        if not stripped:
            continue
        if _ABBREV_END.search(stripped) or len(stripped) < 4:
            carry = seg
            continue
        out.append(seg)
    if carry.strip():
        if out:
            out[-1] += carry
        else:
            out.append(carry)
    return out


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character spans of the sentences of ``text``, in order."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for paragraph in text.split("\n"):
        base = pos
        pos += len(paragraph) + 1
        cursor = 0
        for seg in repair_segments(split_segments(paragraph)):
            core = seg.strip()
            at = paragraph.find(core, cursor)
            if at < 0:  # the splitter changed the text; fall back to the running cursor
                at = cursor
            end = min(at + len(core), len(paragraph))
            if end > at:
                spans.append((base + at, base + end))
            cursor = end
    return spans


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


@lru_cache(maxsize=1)
def _newmm():
    from pythainlp.tokenize import word_tokenize

    return word_tokenize


def word_tokens(text: str) -> list[str]:
    """Lower-cased word tokens (pythainlp newmm), punctuation and spaces dropped."""
    text = normalise_query(text).lower()
    return [t for t in _newmm()(text, engine="newmm", keep_whitespace=False) if _WORD.search(t)]
