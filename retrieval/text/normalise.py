"""Text as it is searched: normalised, Thai digits as Arabic, and its script."""

from __future__ import annotations

import re
import unicodedata

from corpus.release import INVISIBLE, SPACES, THAI_DIGITS


def normalise(text: str) -> str:
    """NFC, no invisible characters, one kind of space, no runs of spaces."""
    text = unicodedata.normalize("NFC", text.translate(INVISIBLE).translate(SPACES))
    return re.sub(r" {2,}", " ", text)


def normalise_query(text: str) -> str:
    """A question as it is embedded and searched: normalised, Thai digits as Arabic."""
    return " ".join(normalise(text).translate(THAI_DIGITS).split())


_THAI_LETTER = re.compile(r"[\u0e00-\u0e7f]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")


def is_thai(text: str) -> bool:
    return _THAI_LETTER.search(text) is not None


def mostly_thai(text: str) -> bool:
    """Whether Thai letters are at least as many as Latin ones: the script a question
    or a passage is written in, for ``search.cross_language``."""
    return len(_THAI_LETTER.findall(text)) >= len(_LATIN_LETTER.findall(text))
