"""crfcut's sentence-boundary CRF, labelled in numpy from the model's own weights.

pycrfsuite's ``Tagger.tag`` takes one feature string per n-gram and window position
(37 per token) and looks each up in the model: most of chunking's time
(docs/performance.md, Indexing). The model is linear: a token's score for a label is
the sum of the weights of its features, and the labels follow by Viterbi over two
labels. Here the weights are read from the model file (exact, float64), each
distinct n-gram of a text is looked up once per window position without building
the feature strings, and Viterbi runs over the summed scores; forward-backward over
the same scores gives the probability of a sentence end at each token (the tagger's
marginals, which the answer's whole-sentence grouping reads). The labels and those
probabilities are crfsuite's (tests/test_chunking.py compares them on every Thai
paragraph of the bundled sample). ``load`` returns None for a model laid out otherwise, and the
caller keeps crfsuite's tagger.
"""

from __future__ import annotations

import math
import struct
import tempfile
from pathlib import Path

import numpy as np

KINDS = ("word", "ender", "starter")
# crfcut's n-grams: 1-3 tokens over a window of 2 tokens either side
GRAMS = [(n, off) for n in (1, 2, 3) for off in range(-2, 4 - n)]


def ngrams(toks: list[str], enders: set[str], starters: set[str]):
    """crfcut's n-grams of ``toks``, each joined once: ``{(kind, n): grams}``, where
    ``grams[j + 2 + off]`` is the n-gram at offset ``off`` of token ``j`` (the text is
    padded by two either side), and the end of the padded text's tokens."""
    doc = ["xxpad", "xxpad", *toks, "xxpad", "xxpad"]
    seqs = {
        "word": doc,
        "ender": ["ender" if t in enders else "normal" for t in doc],
        "starter": ["starter" if t in starters else "normal" for t in doc],
    }
    joined = {
        (kind, n): ["|".join(seq[j : j + n]) for j in range(len(doc))]
        for kind, seq in seqs.items()
        for n in (1, 2, 3)
    }
    return joined, len(doc) - 2


class LinearCRF:
    """Labels I / E for a token sequence, as crfcut's tagger gives them."""

    def __init__(self, weights: np.ndarray, lookup: dict, bias: np.ndarray, trans: np.ndarray):
        self._weights = weights  # [attributes + 1, 2]: row 0 is zero (unknown n-gram)
        self._lookup = lookup  # (kind, n, off) -> {n-gram: row}
        self._bias = bias
        self._trans = trans.tolist()  # [from][to], labels I = 0, E = 1

    def scores(self, toks: list[str], enders: set[str], starters: set[str]) -> list[list[float]]:
        """Each token's score for I and E: the summed weights of its features."""
        joined, end = ngrams(toks, enders, starters)
        size = len(toks)
        rows = np.empty((len(GRAMS) * len(KINDS), size), np.int64)
        for r, (kind, (n, off)) in enumerate((k, g) for k in KINDS for g in GRAMS):
            get = self._lookup.get((kind, n, off), {}).get
            grams = joined[kind, n][2 + off : end + off]
            rows[r] = np.fromiter((get(g, 0) for g in grams), np.int64, size)
        return (self._weights[rows].sum(axis=0) + self._bias).tolist()

    def best(self, scores: list[list[float]]) -> list[str]:
        """The labels of highest score (Viterbi), as the tagger's ``tag``."""
        return _viterbi(scores, self._trans)

    def end_probabilities(self, scores: list[list[float]]) -> list[float]:
        """Each token's probability of label E given the whole sequence (forward-backward
        over the same scores), as the tagger's ``marginal("E", i)``."""
        return _marginals(scores, self._trans)


def _viterbi(scores: list[list[float]], trans: list[list[float]]) -> list[str]:
    (ii, ie), (ei, ee) = trans
    best_i, best_e = scores[0]
    back: list[tuple[int, int]] = []
    for s_i, s_e in scores[1:]:
        from_i_to_i, from_e_to_i = best_i + ii, best_e + ei
        from_i_to_e, from_e_to_e = best_i + ie, best_e + ee
        to_i = 0 if from_i_to_i >= from_e_to_i else 1
        to_e = 0 if from_i_to_e >= from_e_to_e else 1
        back.append((to_i, to_e))
        best_i = (from_i_to_i if to_i == 0 else from_e_to_i) + s_i
        best_e = (from_i_to_e if to_e == 0 else from_e_to_e) + s_e
    label = 0 if best_i >= best_e else 1
    out = [label]
    for step in reversed(back):
        label = step[label]
        out.append(label)
    return ["I" if x == 0 else "E" for x in reversed(out)]


def _marginals(scores: list[list[float]], trans: list[list[float]]) -> list[float]:
    """P(label E at each position), by forward-backward in log space over two labels."""
    (ii, ie), (ei, ee) = trans

    def lae(a: float, b: float) -> float:  # log(exp(a) + exp(b)), for two floats
        return max(a, b) + math.log1p(math.exp(-abs(a - b)))

    forward = [scores[0]]
    for s_i, s_e in scores[1:]:
        a_i, a_e = forward[-1]
        forward.append([lae(a_i + ii, a_e + ei) + s_i, lae(a_i + ie, a_e + ee) + s_e])
    backward = [[0.0, 0.0]]
    for s_i, s_e in reversed(scores[1:]):
        b_i, b_e = backward[-1]
        backward.append([lae(ii + s_i + b_i, ie + s_e + b_e), lae(ei + s_i + b_i, ee + s_e + b_e)])
    backward.reverse()
    out = []
    for (f_i, f_e), (b_i, b_e) in zip(forward, backward, strict=True):
        both_i, both_e = f_i + b_i, f_e + b_e
        out.append(1.0 / (1.0 + math.exp(min(both_i - both_e, 700.0))))
    return out


def load(model_path: str | Path, tagger) -> LinearCRF | None:
    """The CRF of the crfsuite model file at ``model_path`` (opened in ``tagger``,
    whose dump names the attributes), or None where it is not laid out as crfcut's."""
    try:
        data = Path(model_path).read_bytes()
        head = struct.unpack_from("<4sI4sIIIIIIIII", data, 0)
        magic, _, kind, _, _, n_labels, n_attrs, off_features = head[:8]
        if magic != b"lCRF" or kind != b"FOMC" or n_labels != 2:
            return None
        chunk, _, count = struct.unpack_from("<4sII", data, off_features)
        if chunk != b"FEAT":
            return None
        layout = np.dtype([("type", "<i4"), ("src", "<i4"), ("dst", "<i4"), ("w", "<f8")])
        features = np.frombuffer(data, layout, count=count, offset=off_features + 12)
        names, labels = _dump_names(tagger)
    except (OSError, struct.error, ValueError):
        return None
    if labels != {0: "I", 1: "E"} or len(names) != n_attrs:
        return None
    weights = np.zeros((n_attrs + 1, 2))
    trans = np.zeros((2, 2))
    for typ, src, dst, w in features.tolist():
        if typ == 0:
            weights[src + 1, dst] = w
        elif typ == 1:
            trans[src, dst] = w
        else:
            return None
    lookup: dict[tuple[str, int, int], dict[str, int]] = {}
    bias = None
    for attr, name in names.items():
        if name == "bias":
            bias = weights[attr + 1]
            continue
        prefix, eq, gram = name.partition("=")
        parts = prefix.split("_")
        if not eq or len(parts) != 4 or parts[0] not in KINDS:
            return None
        kind, n, a, b = parts[0], int(parts[1]), int(parts[2]), int(parts[3])
        if (n, a) not in GRAMS or b != a + n:
            return None
        lookup.setdefault((kind, n, a), {})[gram] = attr + 1
    if bias is None:
        return None
    return LinearCRF(weights, lookup, bias, trans)


def _dump_names(tagger) -> tuple[dict[int, str], dict[int, str]]:
    """Attribute and label names by id, from crfsuite's text dump of the model."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.txt"
        tagger.dump(str(path))
        text = path.read_text(encoding="utf-8")
    sections: dict[str, dict[int, str]] = {"ATTRIBUTES": {}, "LABELS": {}}
    current, last = None, None
    for line in text.split("\n"):
        if line.endswith("= {") and not line.startswith(" "):
            current, last = sections.get(line[:-4].strip()), None
            continue
        if line == "}":
            current = None
            continue
        if current is None:
            continue
        number, sep, name = line.lstrip().partition(": ")
        if sep and number.isdigit() and line.startswith(" ") and int(number) == len(current):
            last = int(number)
            current[last] = name
        elif last is not None:  # a name with a line break in it (a token of the training text)
            current[last] += "\n" + line
    return sections["ATTRIBUTES"], sections["LABELS"]
