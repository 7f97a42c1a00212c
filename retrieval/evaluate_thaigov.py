"""The thaigov-qa set: questions people ask a news bot about real releases, asked
the way a user asks them: in a conversation, on the day given (``asked_on``)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from retrieval.evaluate import EvalDataError, generated_outcome
from retrieval.question.query import parse_turns
from retrieval.ranking.search import Searcher


@dataclass(frozen=True)
class NewsItem:
    qid: str
    question: str
    lang: str
    kind: str
    gold: tuple[str, ...]
    answers: tuple[str, ...]
    asked_on: dt.date
    context: tuple[str, ...] = ()


def load_thaigov(path: str | Path) -> list[NewsItem]:
    """``dev.jsonl`` of ``../shared/data/thaigov-qa`` (its README gives the fields)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalDataError(f"cannot read {path}: {exc.strerror}") from None
    items = []
    try:
        for line in filter(str.strip, lines):
            row = json.loads(line)
            items.append(NewsItem(
                str(row["id"]), row["q"], row["lang"], row["kind"],
                tuple(str(g) for g in row.get("gold", [])), tuple(row.get("answers", [])),
                dt.date.fromisoformat(row["asked_on"]), tuple(row.get("context") or ()),
            ))  # fmt: skip
    except (ValueError, KeyError, TypeError):
        raise EvalDataError(f"{path} is not in the thaigov-qa jsonl format") from None
    return items


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def ask(searcher: Searcher, item: NewsItem, k: int = 5):
    """The answer ``item`` gets after its conversation, on its day (the earlier turns'
    answers change nothing of how it is read, so only the last is searched)."""
    return searcher.search(parse_turns([*item.context, item.question], item.asked_on), k)


def outcome(item: NewsItem, answer) -> dict:
    releases = list(dict.fromkeys(h.document.doc_id for h in answer.hits))
    text = answer.sentence.text if answer.sentence else None
    return {
        "id": item.qid, "kind": item.kind, "lang": item.lang, "gold": list(item.gold),
        "releases": releases[:5],
        "release@1": bool(releases) and releases[0] in item.gold,
        "release@5": any(r in item.gold for r in releases[:5]),
        "answer": text,
        "answer_hit": bool(text) and any(_squash(a) in _squash(text) for a in item.answers),
        "refused": text is None,
        # the first release's cosine: what a "not found" threshold would compare
        "top_cosine": round(answer.hits[0].dense, 4) if answer.hits else None,
        "asked": answer.query.text if answer.query else item.question,
    }  # fmt: skip


def summary(outcomes: list[dict]) -> dict[str, dict]:
    """Per kind, per language and overall: release@1, release@5 and answer hit over the
    answerable questions, the share of them answered, and the share of the
    unanswerable ones refused."""
    groups: dict[str, list[dict]] = {}
    for o in outcomes:
        for key in (o["kind"], f"lang:{o['lang']}", "all"):
            groups.setdefault(key, []).append(o)
    kinds = ["factoid", "date", "ordinal", "latest", "followup", "unanswerable"]

    def place(key: str) -> tuple:
        return (key == "all", key.startswith("lang:"), kinds.index(key) if key in kinds else 9, key)

    keys = sorted(groups, key=place)
    out = {}
    for key in keys:
        rows = groups[key]
        answerable = [o for o in rows if o["kind"] != "unanswerable"]
        unanswerable = [o for o in rows if o["kind"] == "unanswerable"]
        row: dict[str, float | int] = {"n": len(rows)}
        if answerable:
            n = len(answerable)
            for measure in ("release@1", "release@5", "answer_hit", "generated_hit"):
                if measure in answerable[0]:
                    row[measure] = round(sum(o[measure] for o in answerable) / n, 4)
            row["answered"] = round(sum(not o["refused"] for o in answerable) / n, 4)
        for measure in ("refused", "generated_refused"):
            if unanswerable and measure in unanswerable[0]:
                row[measure] = round(sum(o[measure] for o in unanswerable) / len(unanswerable), 4)
        out[key] = row
    return out


def evaluate_thaigov(
    searcher: Searcher,
    items: list[NewsItem],
    *,
    k: int = 5,
    progress: Callable[[int], None] | None = None,
    generate: Callable | None = None,
) -> tuple[dict[str, dict], list[dict]]:
    """``generate(question, hits)`` (``Generator.generate``): each question's generated
    answer too, over the passages shown (the question as read from its conversation)."""
    outcomes = []
    for item in items:
        answer = ask(searcher, item, k)
        result = outcome(item, answer)
        if generate is not None:
            result |= generated_outcome(generate, result["asked"], answer, answer.hits,
                                        item.answers, _squash)  # fmt: skip
            # "not in the releases", or nothing shown: the question is not answered
            result["generated_refused"] = not result["generated"]
        outcomes.append(result)
        if progress:
            progress(1)
    return summary(outcomes), outcomes
