"""Sentences of Thai and English text: crfcut for Thai, punctuation for English, and
the whole sentences an answer is shown as."""

from __future__ import annotations

import functools
import re
import threading
from functools import lru_cache

from retrieval.gc_pause import paused_gc
from retrieval.text import crf
from retrieval.text.normalise import is_thai
from retrieval.text.words import newmm, word_tokens

# A segment that ends in an abbreviation ("H.E.", "Mrs.", "พ.ศ.", "ม.ค.", "ดร.", "ครม.")
# was cut by crfcut after the dot; it belongs with what follows. English words are
# abbreviations by a list (titles, ranks, months, ...), not by length: "city." or
# "them." ends a sentence (tests/test_chunking.py).
_EN_ABBREVIATIONS = (
    "Mr|Mrs|Ms|Mx|Dr|Prof|Assoc|Asst|St|Jr|Sr|Gen|Lt|Col|Maj|Capt|Cdr|Adm|Brig|Sgt|Pol"
    "|Sqn|Ldr|Gov|Sen|Rep|Rev|Hon|Dep|No|Nos|Vol|Fig|Co|Corp|Inc|Ltd|Dept|Univ|Mt|Ft|vs"
    r"|approx|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Ph\.D"
)
_ABBREV_END = re.compile(
    rf"(?:^|[\s(.])(?:(?:{_EN_ABBREVIATIONS})\.|(?:[\u0e00-\u0e7f]{{1,4}}\.){{1,4}}"
    r"|(?:[A-Za-z]\.){1,4})\s*$"
)
_EN_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9\u0e00-\u0e7f])")


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


Words = list[str] | None  # the newmm tokens a segment was cut from, where known


def _crf_features(toks: list[str], enders: set[str], starters: set[str]) -> list[list[str]]:
    """The features crfcut's ``_extract_features`` makes, the same strings in the same
    order (tests/test_chunking.py), faster: each n-gram is joined once
    (``crf.ngrams``), not once for every window it falls in."""
    joined, end = crf.ngrams(toks, enders, starters)
    columns = [
        [prefix + g for g in joined[kind, n][2 + off : end + off]]
        for n, off in crf.GRAMS
        for kind in crf.KINDS
        for prefix in [f"{kind}_{n}_{off}_{off + n}="]
    ]
    return list(map(list, zip(["bias"] * (end - 2), *columns, strict=True)))


Segment = tuple[str, Words, float]  # text, its newmm tokens, P(a sentence ends here)

# crfcut has one tagger, and marginal() reads the sequence that tag() set last: a
# question's answer and an upload's chunking would otherwise mix their sequences
# (tests/test_bot_load.py met it).
_CRF_LOCK = threading.Lock()


def _crf_segments(piece: str, confident: bool = False) -> list[Segment]:
    """crfcut.segment's sentences, each with the newmm tokens crfcut cut it from: one
    tokenisation then serves the sentence split and the BM25 words (newmm used to run
    twice; docs/performance.md, Indexing). Falls back to crfcut.segment
    where pythainlp's internals differ (tests/test_chunking.py checks they agree).

    With ``confident``, each sentence also carries the CRF's probability (marginal)
    that a sentence ends where it does; else, and where crfcut's rules force the end,
    1.0."""
    crfcut = _crfcut()
    tagger = getattr(crfcut, "_tagger", None)
    enders, starters = getattr(crfcut, "_ENDERS", None), getattr(crfcut, "_STARTERS", None)
    if tagger is None or enders is None or starters is None:
        return [(seg, None, 1.0) for seg in crfcut.segment(piece)]
    toks = newmm()(piece)  # crfcut's own call: newmm, spaces kept
    if not toks:
        return []
    linear = _linear_crf()
    if linear is not None:  # the tagger's labels and marginals, without it (crf.py)
        scores = linear.scores(toks, enders, starters)
        ends = linear.end_probabilities(scores) if confident else None
        return _label(toks, linear.best(scores), ends.__getitem__ if ends else None)
    features = _crf_features(toks, enders, starters)
    with _CRF_LOCK:
        marginal = functools.partial(tagger.marginal, "E") if confident else None
        return _label(toks, tagger.tag(features), marginal)


@lru_cache(maxsize=1)
def _linear_crf():
    """crfcut's model labelled in numpy (retrieval/text/crf.py), or None where its file
    cannot be read as one (crfcut's tagger then labels)."""
    crfcut = _crfcut()
    try:
        from pythainlp.corpus import corpus_path
        from pythainlp.tools import safe_path_join

        path = safe_path_join(corpus_path(), crfcut._CRFCUT_DATA_FILENAME)
    except (ImportError, AttributeError):
        return None
    with _CRF_LOCK:  # the dump goes through the shared tagger
        try:
            return crf.load(path, crfcut._tagger)
        except Exception:  # a model file crf.py misreads: the tagger is always right
            return None


def _label(toks: list[str], labels: list[str], end_probability=None) -> list[Segment]:
    """``_crf_segments`` once the CRF has labelled ``toks``; ``end_probability(i)``: the
    CRF's probability that a sentence ends at token ``i`` (with the tagger's marginals,
    called under ``_CRF_LOCK`` while it holds this sequence), None: 1.0 everywhere."""
    labels = list(labels)
    forced = {len(toks) - 1}
    labels[-1] = "E"  # the rules below are crfcut.segment's
    for i, tok in enumerate(toks):
        if tok.strip().endswith(("!", ".", "?")):
            labels[i] = "E"
            forced.add(i)
        elif (i == 0 or labels[i - 1] == "E") and tok.strip() == "":
            labels[i] = "I"
    out: list[Segment] = []
    words: list[str] = []
    for i, (tok, label) in enumerate(zip(toks, labels, strict=True)):
        words.append(tok)
        if label == "E" and "".join(words):
            sure = 1.0 if end_probability is None or i in forced else end_probability(i)
            out.append(("".join(words), words, sure))
            words = []
    return out


def _segments(paragraph: str, confident: bool = False) -> list[Segment]:
    if not paragraph.strip():
        return []
    if is_thai(paragraph):
        pieces = _windows(paragraph, _CRF_WINDOW)
        return [seg for piece in pieces for seg in _crf_segments(piece, confident)]
    cuts = [m.end() for m in _EN_SENTENCE_END.finditer(paragraph)]
    # keep the spaces with the segments, so that segments concatenate to the paragraph
    bounds = zip([0, *cuts], [*cuts, len(paragraph)], strict=True)
    return [(paragraph[a:b], None, 1.0) for a, b in bounds]


def split_segments(paragraph: str) -> list[str]:
    """Raw sentence segments of one paragraph: crfcut for Thai, punctuation for English."""
    return [seg for seg, _, _ in _segments(paragraph)]


def _join(a: Words, b: Words) -> Words:
    return None if a is None or b is None else a + b


def _repair(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    carry, carry_words = "", []
    for seg, words, sure in segments:
        seg = carry + seg
        words = _join(carry_words, words)
        carry, carry_words = "", []
        if not seg.strip():
            continue
        if _ABBREV_END.search(seg.strip()) or len(seg.strip()) < 4:
            carry, carry_words = seg, words
            continue
        out.append((seg, words, sure))
    if carry.strip():
        if out:
            last, last_words, _ = out[-1]
            out[-1] = (last + carry, _join(last_words, carry_words), 1.0)
        else:
            out.append((carry, carry_words, 1.0))
    return out


def repair_segments(segments: list[str]) -> list[str]:
    """Merge segments cut after an abbreviation or too short to stand alone."""
    return [seg for seg, _, _ in _repair([(s, None, 1.0) for s in segments])]


def _units(text: str, confident: bool = False) -> list[tuple[int, int, Words, float]]:
    units: list[tuple[int, int, Words, float]] = []
    pos = 0
    for paragraph in text.split("\n"):
        base = pos
        pos += len(paragraph) + 1
        cursor = 0
        for seg, words, sure in _repair(_segments(paragraph, confident)):
            core = seg.strip()
            at = paragraph.find(core, cursor)
            if at < 0:  # the splitter changed the text; fall back to the running cursor
                at, words = cursor, None
            end = min(at + len(core), len(paragraph))
            if end > at:
                units.append((base + at, base + end, words, sure))
            cursor = end
        if units:
            a, b, words, _ = units[-1]
            units[-1] = (a, b, words, 1.0)  # a paragraph ends a sentence
    return units


def sentence_units(text: str) -> list[tuple[int, int, Words]]:
    """``(start, end, tokens)`` of the sentences of ``text``: tokens are the raw newmm
    tokens of the sentence where the splitter made them (Thai), else None."""
    return [(a, b, words) for a, b, words, _ in _units(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character spans of the sentences of ``text``, in order."""
    return [(a, b) for a, b, _, _ in _units(text)]


# crfcut cuts Thai text into more sentences than the same text has in English, most
# extra cuts falling between the clauses of one sentence ("...ผู้เล่นหลายคนพุ่งเข้าหา
# ลูกบอล" | "วอร์ด แย่งกลับไปได้"). Joined across the cuts its CRF is less than this
# sure of, Thai and English counts agree (docs/quality.md). The answer is chosen among
# crfcut's sentences (a whole first sentence, "On <date> <person> attended <the
# event>", would win who- and when-questions about the event) and shown as the whole
# sentence around it. Passages are packed from crfcut's own sentences.
ANSWER_BOUNDARY = 0.65


def whole_sentences(text: str, boundary: float = ANSWER_BOUNDARY) -> list[list[tuple[int, int]]]:
    """crfcut's sentences of ``text`` (``sentence_spans``) in groups, one group per
    whole sentence: a cut whose probability is under ``boundary`` joins the
    sentences either side of it. One pass of the splitter."""
    return [[(a, b) for a, b, _ in group] for group in whole_sentence_units(text, boundary)]


def whole_sentence_units(
    text: str, boundary: float = ANSWER_BOUNDARY
) -> list[list[tuple[int, int, Words]]]:
    """``whole_sentences``, each sentence with the raw newmm tokens the splitter cut it
    from (``sentence_units``; None where it made none): ``index_words`` of them are its
    ``word_tokens`` without a second pass of newmm."""
    groups: list[list[tuple[int, int, Words]]] = []
    joined = False
    for a, b, words, sure in _units(text, confident=True):
        if joined:
            groups[-1].append((a, b, words))
        else:
            groups.append([(a, b, words)])
        joined = sure < boundary
    return groups


def answer_spans(text: str, boundary: float = ANSWER_BOUNDARY) -> list[tuple[int, int]]:
    """The spans of ``whole_sentences``: what an answer is shown as."""
    return [(group[0][0], group[-1][1]) for group in whole_sentences(text, boundary)]


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def warm_up() -> None:
    """Load the word dictionary and the sentence model now rather than on the first
    question: 0.3 s, against 0.9 s with the collector on after the model has loaded."""
    with paused_gc():  # the word trie: 0.2 s instead of 0.4-0.6 s (gc_pause.py)
        whole_sentences("ทดสอบ การตัดประโยค")  # as questions use it (crf.py's model too)
        word_tokens("ทดสอบ การตัดคำ")
