"""The model's tokenizer where the model is not: counting tokens, and passages as input
ids with the token rows of each sentence (for a chunking thread or process)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np


def counting_tokenizer(tokenizer_json: str):
    """A Rust tokenizer from its JSON, for counting only: no truncation, no padding."""
    from tokenizers import Tokenizer

    counter = Tokenizer.from_str(tokenizer_json)
    counter.no_truncation()
    counter.no_padding()
    return counter


def count_with(counter, texts: Sequence[str]) -> list[int]:
    """Model tokens of each text, without special tokens."""
    if not texts:
        return []
    return [len(e.ids) for e in counter.encode_batch(list(texts), add_special_tokens=False)]


def token_counter(tokenizer_json: str) -> Callable[[Sequence[str]], list[int]]:
    """``Embedder.count_tokens`` from a serialised tokenizer (``counter_json``), for a
    process that does not load the model."""
    return functools.partial(count_with, counting_tokenizer(tokenizer_json))


def input_tokenizer(tokenizer_json: str):
    """A Rust tokenizer from ``Embedder.passage_tokenizer_json``: the model's input
    ids (special tokens, truncation as set there), no padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    return tokenizer


Spans = Sequence[tuple[int, int]]
PassageInputs = Callable[[Sequence[str], Sequence[Spans]], tuple[list, list]]


def span_rows(offsets: np.ndarray, spans: Spans) -> np.ndarray:
    """``[first, end)`` token rows of each character span (``int32 [n, 2]``): the tokens
    whose ``offsets`` (character offsets into the text, ``[n_tokens, 2]``) overlap it.
    Special tokens (empty offsets) are in none; a span no token reaches (cut off by
    the model's length limit) gets an empty range."""
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = ends > starts
    out = np.zeros((len(spans), 2), np.int32)
    for i, (a, b) in enumerate(spans):
        rows = np.flatnonzero(real & (starts < b) & (ends > a))
        if rows.size:
            out[i] = rows[0], rows[-1] + 1
    return out


def inputs_with(tokenizer, prompt: str, texts: Sequence[str], spans: Sequence[Spans]):
    if not texts:
        return [], []
    ids, rows = [], []
    for encoding, text_spans in zip(
        tokenizer.encode_batch([prompt + t for t in texts]), spans, strict=True
    ):
        ids.append(np.array(encoding.ids, np.int32))
        offsets = np.array(encoding.offsets, np.int64).reshape(-1, 2) - len(prompt)
        rows.append(span_rows(offsets, text_spans))
    return ids, rows


def passage_inputs(tokenizer_json: str, prompt: str) -> PassageInputs:
    """``(texts, spans) -> (ids, rows)``: the model's input ids of each passage text
    and, for each character span of that text, the rows of its tokens (``span_rows``),
    for ``Embedder.embed_passage_inputs`` (or the ids alone for ``embed_passage_ids``),
    made where the model is not (a chunk process, the chunking thread)."""
    return functools.partial(inputs_with, input_tokenizer(tokenizer_json), prompt)


# Texts the passage tokenizer is checked on against the model's own: surrounding
# spaces, Thai, and one over any model's length limit.
PROBE_TEXTS = (
    "  AMCC chaired by Josephine Teo \n",
    "นายกรัฐมนตรีเป็นประธานการประชุมครั้งที่ 6 ณ ทำเนียบรัฐบาล",
    "ประกาศ " * 600,
)


def pool_spans(states, rows: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Unit mean vectors of the token rows ``rows[b]`` (``[n, 2]`` ranges) of each
    passage ``b`` of a batch's token states ``[batch, width, dim]``, in one gather
    over running sums (on the states' device); an empty range gives zeros."""
    import torch

    with torch.inference_mode():
        states = states.float()
        batch, _, dim = states.shape
        sums = torch.cat([states.new_zeros(batch, 1, dim), states.cumsum(dim=1)], dim=1)
        which = np.repeat(np.arange(batch), [len(r) for r in rows])
        ranges = np.concatenate([np.asarray(r, np.int64).reshape(-1, 2) for r in rows])
        if not len(ranges):
            return [np.zeros((0, dim), np.float32) for _ in rows]
        b = torch.from_numpy(which).to(states.device)
        first = torch.from_numpy(ranges[:, 0]).to(states.device)
        end = torch.from_numpy(ranges[:, 1]).to(states.device)
        means = (sums[b, end] - sums[b, first]) / (end - first).clamp(min=1)[:, None]
        means = torch.nn.functional.normalize(means, p=2, dim=1).cpu().numpy()
    return np.split(means, np.cumsum([len(r) for r in rows])[:-1])
