"""Announcements published as PDF with a text layer (the Royal Gazette's, a ministry's
notice): one Document per file, through pypdf. No OCR: a scanned PDF, pages of
images without text, gets one sentence.
"""

from __future__ import annotations

import io
import logging

from corpus.models import Document, UnsupportedDocument
from corpus.release import clean_text, headed_document

# pypdf reports malformed-but-readable files at WARNING level, one line per object
logging.getLogger("pypdf").setLevel(logging.ERROR)

MAX_PAGES = 500  # a longer file is a book or a gazette volume, not an announcement
MIN_TEXT_CHARS = 20  # fewer extracted characters: the pages are images (scanned)


def thai_order(text: str) -> str:
    """Thai as a .txt of the same text has it: a PDF's glyphs may come out as nikhahit
    and sara aa for sara am, or with a tone mark before the vowel above it
    (pythainlp's ``normalize`` puts them in their canonical order)."""
    from pythainlp.util import normalize

    return "\n".join(normalize(line) for line in text.split("\n"))


def parse_pdf(data: bytes, name: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnsupportedDocument(f"{name} is an encrypted PDF; save it without a password")
        if len(reader.pages) > MAX_PAGES:
            raise UnsupportedDocument(
                f"{name} has {len(reader.pages)} pages, over the {MAX_PAGES}-page limit"
            )
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = reader.metadata
        meta_title = (meta.title or "").strip() if meta else ""
        try:
            created = meta.creation_date if meta else None
        except (PyPdfError, ValueError):  # a malformed date in the metadata: no date
            created = None
    except UnsupportedDocument:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnsupportedDocument(f"{name} is a PDF that cannot be read ({exc})") from None
    text = thai_order(clean_text("\n".join(pages)))
    lines = [line for line in text.split("\n") if line]
    if sum(len(line) for line in lines) < MIN_TEXT_CHARS:
        raise UnsupportedDocument(
            f"{name} is a PDF without a text layer (scanned pages are not read)"
        )
    date = created.date().isoformat() if created else None
    return headed_document(lines, thai_order(clean_text(meta_title)), name, date=date)
