"""Retrieval quality on labelled question sets, through the product's own pipeline.

The contexts are indexed into a throwaway corpus in a temporary folder (same
chunking, embedding, fusion and answer sentence as the product); the embedding
cache is shared, so a second run embeds nothing.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from corpus.models import Document
from corpus.store import Store
from retrieval.encoder.embedder import Embedder
from retrieval.index.embed_cache import EmbeddingCache
from retrieval.index.indexer import Indexer
from retrieval.index.vector_index import VectorIndex
from retrieval.ranking.constants import Ranking
from retrieval.ranking.search import Searcher
from retrieval.text.chunking import ChunkingConfig


class EvalDataError(Exception):
    """An evaluation file is missing or not in the expected format."""


@dataclass(frozen=True)
class EvalItem:
    qid: str
    question: str
    gold_doc: str
    answers: tuple[str, ...]


def _read_json(path: str | Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvalDataError(f"cannot read {path}: {exc}") from None


def load_squad(contexts: str | Path, questions: str | Path | None = None):
    """SQuAD v1.1: paragraphs of ``contexts`` are the passages; questions (matched by
    id, so another language's file can supply them) come from ``questions``."""
    ctx = _read_json(contexts)
    qsrc = _read_json(questions) if questions else ctx
    try:
        asked = {
            q["id"]: q["question"] for a in qsrc["data"] for p in a["paragraphs"] for q in p["qas"]
        }
        docs, items = [], []
        for ai, article in enumerate(ctx["data"]):
            for pi, para in enumerate(article["paragraphs"]):
                doc_id = f"p{ai:03d}-{pi:02d}"
                text = para["context"].lstrip("\ufeff").strip()
                docs.append(Document(doc_id, article.get("title", doc_id), None, None, "th", text))
                for q in para["qas"]:
                    if q["id"] in asked:
                        answers = tuple(a["text"] for a in q.get("answers", []))
                        items.append(EvalItem(q["id"], asked[q["id"]], doc_id, answers))
    except (KeyError, TypeError):
        raise EvalDataError(f"{contexts} is not in SQuAD v1.1 format") from None
    return docs, items


def load_iapp(path: str | Path):
    """iApp Wiki QA jsonl: distinct contexts are the passages."""
    docs: dict[str, Document] = {}
    by_context: dict[str, str] = {}
    items = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalDataError(f"cannot read {path}: {exc.strerror}") from None
    try:
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            context = row["context"].strip()
            doc_id = by_context.get(context)
            if doc_id is None:
                doc_id = by_context[context] = f"c{len(docs):04d}"
                docs[doc_id] = Document(
                    doc_id, row.get("title") or doc_id, None, None, "th", context
                )
            answers = tuple(row.get("answers", {}).get("text", []))
            items.append(EvalItem(str(row["question_id"]), row["question"], doc_id, answers))
    except (ValueError, KeyError, TypeError):
        raise EvalDataError(f"{path} is not in the iApp Wiki QA jsonl format") from None
    return list(docs.values()), items


def _norm(text: str) -> str:
    return " ".join(text.split())


def evaluate(
    searcher: Searcher,
    items: list[EvalItem],
    *,
    k: int = 10,
    answers: bool = True,
    progress: Callable[[int], None] | None = None,
    record: Callable[[dict], None] | None = None,
    generate: Callable | None = None,
) -> dict[str, float]:
    """recall@1/5/10, mrr@10 of the gold passage, and the answer-sentence hit rate.
    ``record`` gets each question's outcome (``outcome``), to compare two runs by.
    ``generate(question, hits)`` (``Generator.generate``): also the generated answer's
    hit rate over the first ``k`` passages, and the share of questions it was shown."""
    ranks: list[int | None] = []
    answer_hits = 0
    generated_hits = shown = 0
    for item in items:
        answer = searcher.search(item.question, k=max(3 * k, 30), with_sentence=answers)
        order = list(dict.fromkeys(h.document.doc_id for h in answer.hits))[:k]
        ranks.append(order.index(item.gold_doc) + 1 if item.gold_doc in order else None)
        hit = bool(answer.sentence) and any(
            _norm(a) in _norm(answer.sentence.text) for a in item.answers
        )
        answer_hits += hit
        result = outcome(item, order, answer, hit)
        if generate is not None:
            result |= generated_outcome(generate, item.question, answer, answer.hits[:k],
                                        item.answers, _norm)  # fmt: skip
            generated_hits += result["generated_hit"]
            shown += result["generated"] is not None
        if record:
            record(result)
        if progress:
            progress(1)
    n = len(items)

    def recall(at: int) -> float:
        return round(sum(1 for r in ranks if r is not None and r <= at) / n, 4) if n else 0.0

    mrr = sum(1 / r for r in ranks if r is not None and r <= 10) / n if n else 0.0
    hit_rate = round(answer_hits / n, 4) if n else 0.0
    metrics = {"n": n, "recall@1": recall(1), "recall@5": recall(5), "recall@10": recall(10),
               "mrr@10": round(mrr, 4), "answer_hit": hit_rate}  # fmt: skip
    if generate is not None and n:
        metrics["generated_hit"] = round(generated_hits / n, 4)
        metrics["generated_shown"] = round(shown / n, 4)
    return metrics


def generated_outcome(generate, question: str, answer, hits, answers, norm) -> dict:
    """The generated answer's part of a question's outcome: its text (None: not shown)
    and whether it holds a gold answer (compared after ``norm``)."""
    generated = generate(question, hits) if answer.found else None
    said = generated.text if generated else ""
    return {"generated": said if generated else None,
            "generated_hit": any(norm(a) in norm(said) for a in answers if a)}  # fmt: skip


def outcome(item: EvalItem, order: list[str], answer, hit: bool) -> dict:
    """One question's result: the releases ranked, the gold one's rank, the answer."""
    sentence = answer.sentence
    return {"qid": item.qid, "gold": item.gold_doc,
            "rank": order.index(item.gold_doc) + 1 if item.gold_doc in order else None,
            "ranked": order, "answer": sentence.text if sentence else None,
            "answer_doc": sentence.doc_id if sentence else None, "answer_hit": hit}  # fmt: skip


class EvalCorpus:
    """A throwaway corpus + index in a temporary folder, sharing an embedding cache."""

    def __init__(
        self, embedder: Embedder, cache_path: str | Path, chunking: ChunkingConfig
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="prakat-eval-")
        root = Path(self._tmp.name)
        self.store = Store(root / "corpus.sqlite")
        self.cache = EmbeddingCache(cache_path)
        self.embedder = embedder
        self.indexer = Indexer(self.store, self.cache, embedder, root / "index.faiss", chunking)

    def add(self, docs: Iterable[Document], progress=None) -> None:
        if progress:
            self.indexer.add_documents(docs, progress)
        else:
            self.indexer.add_documents(docs)

    def searcher(self, config: Ranking, *, not_found: bool = False) -> Searcher:
        """Recall is measured on rankings, so the "not found" threshold is off here,
        unless ``not_found`` (a set that measures refusals)."""
        index, _ = VectorIndex.load(
            self.indexer.index_path, model=self.embedder.signature, config=self.indexer.index_config
        )
        if not not_found:
            config = replace(config, min_score=0.0)
        return Searcher(self.store, self.embedder, index, config, sentences=self.cache)

    def close(self) -> None:
        self.store.close()
        self.cache.close()
        self._tmp.cleanup()
