"""Small result types and the named errors of the corpus layer."""

from __future__ import annotations

from dataclasses import dataclass


class CorpusError(Exception):
    """Base class of expected corpus failures; the message is one sentence for a person."""


class UnsupportedDocument(CorpusError):
    """A file or text that cannot be read as a release (empty, binary, unknown format)."""


class EmptyRelease(UnsupportedDocument):
    """A release page that holds no release (the site's empty news ids)."""


class DocumentNotFound(CorpusError):
    """No document with the given id is in the corpus."""


class StoreLocked(CorpusError):
    """Another process is writing to the corpus database."""


@dataclass(frozen=True)
class Document:
    """One release: parsed metadata plus its normalised body text."""

    doc_id: str
    title: str
    date: str | None  # ISO yyyy-mm-dd, or None when the release has no real date
    url: str | None
    lang: str  # "th" or "en"
    text: str
    source_path: str | None = None
    section: str | None = None  # the site's section ("ด้านความมั่นคง"), where a page gives it


@dataclass(frozen=True)
class Chunk:
    """A passage of a document; ``start``/``end`` are character offsets into ``Document.text``."""

    chunk_id: int | None
    doc_id: str
    position: int
    text: str
    start: int
    end: int
