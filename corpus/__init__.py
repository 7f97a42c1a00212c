"""What a document is and where it lives: release parsing, loading, the SQLite store."""

from corpus.models import (
    Chunk,
    CorpusError,
    Document,
    DocumentNotFound,
    StoreLocked,
    UnsupportedDocument,
)

__all__ = [
    "Chunk",
    "CorpusError",
    "Document",
    "DocumentNotFound",
    "StoreLocked",
    "UnsupportedDocument",
]
