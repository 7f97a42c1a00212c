"""What a search returns: passages with their scores, and the answer sentence."""

from __future__ import annotations

from dataclasses import dataclass

from corpus.models import Chunk, Document
from retrieval.question.query import Query


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    document: Document
    score: float  # fused score (higher is better)
    dense: float  # cosine of query and chunk


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    doc_id: str
    chunk_id: int
    start: int  # offsets into the chunk text
    end: int
    score: float  # compares sentences within one question (word overlap alone where one
    # sentence was near enough to win: Ranking.answer_margin)


@dataclass(frozen=True)
class Answer:
    question: str
    sentence: AnswerSentence | None
    hits: list[Hit]
    query: Query | None = None  # the question as read (completed, its day)

    @property
    def found(self) -> bool:
        return bool(self.hits)
