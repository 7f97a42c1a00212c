"""Token alignment: how much of a question each sentence holds, word by word, in any
language.

A multilingual encoder's token states carry a word's meaning across languages: the
state of "chaired" in an English question lies near the states of the Thai tokens that
say it (word aligners read the same states: Jalili Sabet et al. 2020, *SimAlign*).
For each content token of the question, the best cosine with a token of the sentence;
the mean of those is the sentence's alignment. It is what word overlap is for a
question in the corpus's own language, for one in the other (docs/design.md).
"""

from __future__ import annotations

import numpy as np

from retrieval.encoder.states import TokenStates

# English function words: a question's "who", "the", "of" align with anything
STOP = frozenset(
    "a an and are as at be been by did do does for from had has have how in is it its "
    "of on or that the this to was were what when where which who whom whose why with "
    "will would can could".split()
)


def _word(piece: str) -> str:
    """A tokenizer piece as a word: SentencePiece's "▁", WordPiece's "##" and
    byte-level BPE's "Ġ" markers off, lower case."""
    return piece.replace("▁", "").replace("Ġ", "").removeprefix("##").lower()


def token_weights(tokens: tuple[str, ...] | list[str]) -> np.ndarray:
    """The weight of each question token in ``alignment``: equal for content tokens,
    0 for punctuation and English function words (all equal if none is left)."""
    weights = np.array(
        [0.0 if not any(ch.isalnum() for ch in w) or w in STOP else 1.0
         for w in map(_word, tokens)]
    )  # fmt: skip
    if not weights.sum():
        weights = np.ones(len(tokens))
    return weights / max(1.0, weights.sum())


def alignment(question: TokenStates, weights: np.ndarray, sentence: TokenStates) -> float:
    """The ``weights``-weighted mean over the question's tokens of each one's best
    cosine with a token of ``sentence``; 0 where either has no tokens."""
    if not len(question.states) or not len(sentence.states):
        return 0.0
    best = (question.states @ sentence.states.T).max(axis=1)
    return float(best @ weights)
