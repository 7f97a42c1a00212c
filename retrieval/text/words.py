"""Word tokens (pythainlp newmm) for BM25 and the answer's word overlap."""

from __future__ import annotations

import re
from functools import lru_cache

from retrieval.text.normalise import normalise_query

_WORD = re.compile(r"\w", re.UNICODE)


@lru_cache(maxsize=1)
def newmm():
    from pythainlp.tokenize import word_tokenize

    return word_tokenize


def word_tokens(text: str) -> list[str]:
    """Lower-cased word tokens (pythainlp newmm), punctuation and spaces dropped."""
    text = normalise_query(text).lower()
    return [t for t in newmm()(text, engine="newmm", keep_whitespace=False) if _WORD.search(t)]


def index_words(tokens: list[str]) -> list[str]:
    """``word_tokens`` of a text, from newmm tokens already cut from it."""
    return [word for word in map(_index_word, tokens) if word]


@lru_cache(maxsize=100_000)
def _index_word(token: str) -> str | None:
    """One token as a BM25 word, None for punctuation and spaces. Tokens recur all the
    time."""
    word = normalise_query(token).lower()
    return word if _WORD.search(word) else None
