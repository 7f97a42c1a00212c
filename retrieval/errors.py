"""Named errors of the retrieval layer; each message is one sentence for a person."""


class RetrievalError(Exception):
    """Base class of expected retrieval failures."""


class IndexNotBuilt(RetrievalError):
    """There is no index yet."""


class IndexMismatch(RetrievalError):
    """The index on disk was built with another model or does not match the corpus."""


class IndexCorrupt(RetrievalError):
    """The index file is damaged or truncated."""
