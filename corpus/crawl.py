"""Walking thaigov.go.th's news ids the way the corpus's own crawler did: upward from
the newest known, one page each, until a run of ids holds no release."""

from __future__ import annotations

from collections.abc import Iterator

from corpus.fetch import Fetcher, PageMissing
from corpus.loader import load_bytes
from corpus.models import Document, UnsupportedDocument


def fetch_release(fetcher: Fetcher, url: str) -> Document:
    """The release at ``url``: fetched, then read like a file (HTML or PDF)."""
    page = fetcher.get(url)
    return load_bytes(page.content, page.url, max_bytes=fetcher.config.max_bytes, url=page.url)


def walk(
    fetcher: Fetcher, first: int, *, limit: int | None = None
) -> Iterator[tuple[int, Document | None]]:
    """``(news id, release or None)`` for each id from ``first`` upward, until the
    fetcher's ``misses_to_stop`` ids in a row hold none or ``limit`` releases were found.
    A page that cannot be read as a release is a miss too; a page that cannot be
    fetched (the site refuses, fails or does not answer) ends the walk with its
    ``FetchError``."""
    config = fetcher.config
    misses = found = 0
    news_id = first
    while misses < config.misses_to_stop and (limit is None or found < limit):
        try:
            doc = fetch_release(fetcher, config.release_url.format(id=news_id))
        except (PageMissing, UnsupportedDocument):  # an empty id, or no release to read
            doc = None
        if doc is None:
            misses += 1
        else:
            misses = 0
            found += 1
        yield news_id, doc
        news_id += 1
