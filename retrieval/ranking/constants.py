"""The ranking's constants, in one place. Each was chosen on the evaluation sets
(docs/design.md says what each does and why; docs/quality.md what it measured).
Users do not set these; an experiment overrides them in the config's `ranking:`
section."""

from __future__ import annotations

from dataclasses import dataclass

FUSIONS = ("weighted", "rrf", "dense", "bm25")


@dataclass(frozen=True)
class Ranking:
    # -- candidates
    dense_k: int = 50  # from the vector index
    lexical_k: int = 50  # from BM25
    # BM25 finds candidates only by words in at most this share of the passages, and in
    # at most common_postings of them (0: no cap); numbers always; the commoner words
    # add their BM25 to the candidates found
    common_share: float = 0.05
    common_postings: int = 3000
    # past this many postings in all, BM25 finds candidates by the rarest words within
    # the budget, and the others add their BM25 to them (0: every word finds them)
    lexical_budget: int = 50_000

    # -- fusion
    fusion: str = "weighted"  # weighted; rrf, dense and bm25 are baselines for `make eval`
    # weighted: cosine + bm25_weight x vocabulary coverage x script share x BM25 / best
    bm25_weight: float = 0.1
    rrf_k: int = 60  # rrf's constant
    # a passage in the other script than the question's (Thai or Latin) gains this,
    # against the model's pull towards its own language (not for a centred question)
    cross_language: float = 0.02
    # a question in Latin letters is compared by content: this share of the mean
    # English question comes off it, each script's mean passage off the passages
    centring: float = 0.75

    # -- re-scoring
    # a centred question's top passages within sentence_margin of the first gain
    # sentence_weight x their best sentence's centred cosine (the sentence embedded
    # alone) and sentence_alignment x its token alignment with the question
    sentence_passages: int = 5
    sentence_weight: float = 0.75
    sentence_margin: float = 0.1
    sentence_alignment: float = 3.0
    # a Thai question's top passages gain gram_weight x their BM25 of its character
    # 3-grams among them over the best one's
    gram_passages: int = 30
    gram_weight: float = 0.1

    # -- what the question asks of a release (constraints)
    # the candidates within topic_margin of the best score (in units of the best's lead
    # over the median candidate) match the topic; among them the asked occurrence,
    # date and the newest decide the order
    topic_margin: float = 0.75
    # a release published up to date_slack days after the asked date may report it
    date_slack: int = 3
    # a question naming dates also takes the date_k passages of those days nearest it
    date_k: int = 50
    # releases shown: one passage each (the answer still reads the first one's top
    # passages)
    distinct_releases: bool = True

    # -- passages and the answer
    min_score: float = 0.77  # best cosine below this: "not found" (search.min_score)
    answer_passages: int = 3  # the answer is one of these top passages' sentences
    # of their sentences, embed only the answer_candidates sharing most of the
    # question's words (0: all) and within answer_margin of the best's overlap score
    # (one left: none embedded)
    answer_candidates: int = 6
    answer_margin: float = 0.15
    # a question in its passages' script is answered from the sentence vectors kept at
    # indexing (no model call)
    stored_sentences: bool = True
    # a question across scripts adds answer_alignment x each sentence's token alignment
    answer_alignment: float = 2.0
    # a Thai question's answer is the sentence beside the one restating it up to the
    # question word
    answer_side: bool = True
    # the answer's word overlap weighs each word by its IDF among the candidate
    # sentences too (a word all of them hold is the release's topic)
    sentence_idf: bool = True
    # a Thai question's candidate sentences add answer_grams x their BM25 of its
    # character 3-grams among them over the best one's
    answer_grams: float = 0.1

    @property
    def centres_used(self) -> bool:
        """Whether questions in Latin letters are centred, so the language centres
        are needed."""
        return self.fusion == "weighted" and self.centring > 0


# Each constant's range, checked where a config sets it: (low, high) or None for
# "0 or more". Cosines span ~0.7-0.9, BM25 over the best one's 0..1, alignments ~0.3-1.
LIMITS: dict[str, tuple[float, float] | None] = {
    "dense_k": None, "lexical_k": None, "common_share": (0, 1), "common_postings": None,
    "lexical_budget": None, "bm25_weight": (0, 1), "rrf_k": None,
    "cross_language": (0, 0.1), "centring": (0, 1), "sentence_passages": None,
    "sentence_weight": (0, 2), "sentence_margin": (0, 1), "sentence_alignment": (0, 10),
    "gram_passages": None, "gram_weight": (0, 1), "min_score": (0, 1),
    "answer_passages": None, "answer_candidates": None, "answer_margin": (0, 1),
    "answer_alignment": (0, 10), "answer_grams": (0, 1), "topic_margin": (0, 5),
    "date_slack": (0, 31), "date_k": None,
}  # fmt: skip
