"""New releases from thaigov.go.th into the index: `prakat corpus fetch`, and the bot's
/fetch and scheduled fetch.

Releases are added in small batches; the id a run starts after, then after each
batch the newest news id added, is recorded (``fetch.last_id`` in the corpus's meta
table). A run killed at any moment starts again after the last recorded id: the
releases of an unrecorded batch are fetched again and come back "unchanged", so none
is added twice, and the indexer's own commit leaves none half-added.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.follows import queue_new
from bot.runtime import Runtime
from corpus.crawl import walk
from corpus.fetch import Fetcher
from corpus.models import Document

LAST_ID = "fetch.last_id"


@dataclass
class FetchReport:
    tried: int = 0
    found: int = 0  # releases found
    statuses: dict[str, int] = field(default_factory=dict)  # added / replaced / unchanged
    last_id: int | None = None  # the newest news id found


def newest_known(runtime: Runtime) -> int:
    """The news id to walk on from: the last one a fetch recorded, else the highest
    numeric release id in the corpus, else 0."""
    recorded = runtime.store.get_meta(LAST_ID)
    if recorded and recorded.isdigit():
        return int(recorded)
    ids = [int(d) for d in runtime.store.doc_ids() if re.fullmatch(r"\d+", d)]
    return max(ids, default=0)


def fetch_new(
    runtime: Runtime,
    fetcher: Fetcher,
    *,
    since: int | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    on_id: Callable[[int, Document | None], None] | None = None,
    on_added: Callable[[list], None] | None = None,
    report: FetchReport | None = None,
) -> FetchReport:
    """Walk the news ids after ``since`` (default ``newest_known``), adding each release
    found unless ``dry_run``. ``on_id(news id, release or None)`` after each id;
    ``on_added(results)`` after each batch is in the index; ``report``: filled as it
    goes (what a run that stops on an error found is in it)."""
    if since is not None and not dry_run:
        runtime.store.set_meta(LAST_ID, str(since))  # a run killed before a batch resumes here
    start = (newest_known(runtime) if since is None else since) + 1
    report = report if report is not None else FetchReport()
    batch: list[tuple[int, Document]] = []

    def commit() -> None:
        taken = batch[:]
        batch.clear()  # taken once: a commit interrupted is not retried on the way out
        if not taken or dry_run:
            return
        queue_new(runtime.settings.follows_path, runtime.store, [doc.doc_id for _, doc in taken])
        results = runtime.indexer.add_documents([doc for _, doc in taken])
        for r in results:
            report.statuses[r.status] = report.statuses.get(r.status, 0) + 1
        runtime.store.set_meta(LAST_ID, str(taken[-1][0]))
        if on_added:
            on_added(results)

    try:
        for news_id, doc in walk(fetcher, start, limit=limit):
            report.tried += 1
            if doc is not None:
                report.found += 1
                report.last_id = news_id
                batch.append((news_id, doc))
                if len(batch) >= fetcher.config.batch:
                    commit()
            if on_id:
                on_id(news_id, doc)
    finally:
        commit()  # what was found before an error or Ctrl-C is kept
    return report
