"""Turn paths and bytes into Documents: decoding, format checks, named errors."""

from __future__ import annotations

import codecs
import multiprocessing
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from corpus.models import Document, UnsupportedDocument
from corpus.release import parse_release

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf")
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MIN_FILES_FOR_PROCESSES = 200  # fewer are read in this process: starting workers costs more

_BINARY_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"PK\x03\x04": "a ZIP archive (or Office document)",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x7fELF": "a program",
    b"\x1f\x8b": "a gzip archive",
}
_HTML = re.compile(r"<\s*(?:!doctype|html|head|body|script|iframe|style)\b", re.IGNORECASE)
# an HTML page's own charset (Thai sites have served TIS-620 / windows-874)
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


# browsers read every Thai label as windows-874 (WHATWG's encoding standard), a superset
_THAI_LABELS = {"windows-874", "x-cp874", "tis-620", "tis620", "iso-8859-11", "iso8859-11"}


def _page_charset(data: bytes) -> str | None:
    found = _CHARSET.search(data[:4096])
    if not found:
        return None
    label = found[1].decode("ascii").lower()
    if label in _THAI_LABELS:
        return "cp874"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_bytes(data: bytes, name: str = "the file") -> str:
    """Decode release bytes: UTF-8 (with or without BOM), UTF-16 with a BOM, or an
    HTML page's declared charset."""
    if not data.strip():
        raise UnsupportedDocument(f"{name} is empty")
    for magic, kind in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise UnsupportedDocument(f"{name} is {kind}, not a text release")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise UnsupportedDocument(f"{name} is not valid UTF-16 text") from None
    else:
        if b"\x00" in data:
            raise UnsupportedDocument(f"{name} looks binary (it contains NUL bytes)")
        charset = _page_charset(data)
        if charset in (None, "utf-8", "utf-16"):
            charset = "utf-8-sig"
        try:
            text = data.decode(charset)
        except UnicodeDecodeError as exc:
            label = "UTF-8" if charset == "utf-8-sig" else charset
            raise UnsupportedDocument(
                f"{name} is not valid {label} text (bad byte at offset {exc.start})"
            ) from None
    controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\n\r\t\f\v")
    if controls > 8:
        raise UnsupportedDocument(f"{name} looks binary (it is full of control characters)")
    return text


def load_bytes(
    data: bytes, name: str, *, max_bytes: int = DEFAULT_MAX_BYTES, url: str | None = None
) -> Document:
    """Parse an uploaded, read or fetched file's bytes into a Document: a PDF, an HTML
    page (``url``: where it was fetched from) or a text release, told by content."""
    if len(data) > max_bytes:
        raise UnsupportedDocument(
            f"{name} is {len(data) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit"
        )
    if data.startswith(b"%PDF"):
        from corpus.pdf_release import parse_pdf

        return parse_pdf(data, name)
    text = decode_bytes(data, name)
    if _HTML.search(text[:100_000]):
        from corpus.html_release import parse_html

        return parse_html(text, name, url)
    try:
        return parse_release(text, source_path=name)
    except UnsupportedDocument as exc:  # name the file: `corpus add DIR` may skip hundreds
        raise UnsupportedDocument(f"{name}: {exc}") from None


def check_suffix(name: str) -> None:
    """Refuse a file name that is not of a kind releases come in."""
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UnsupportedDocument(f"{name} is not a .txt, .md, .html or .pdf file")


def load_path(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Read one release file."""
    path = Path(path)
    check_suffix(path.name)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnsupportedDocument(
                f"{path.name} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise UnsupportedDocument(f"cannot read {path}: {exc.strerror or exc}") from None
    return load_bytes(data, str(path), max_bytes=max_bytes)


def _load_or_error(path: Path, max_bytes: int) -> Document | str:
    try:
        return load_path(path, max_bytes=max_bytes)
    except UnsupportedDocument as exc:
        return str(exc)


def load_releases(
    paths: list[str | Path], *, max_bytes: int = DEFAULT_MAX_BYTES, workers: int = 1
) -> tuple[dict[str, Document], list[str]]:
    """Every release under ``paths``, by id (a later file with the same id wins), and
    one error sentence per file that could not be read. With ``workers`` > 1 and many
    files, they are read and parsed in that many processes (the archive's 63,241 take
    one core 90 s or more), with the same result."""
    files = list(iter_release_paths(paths))
    load = partial(_load_or_error, max_bytes=max_bytes)
    if workers > 1 and len(files) >= MIN_FILES_FOR_PROCESSES:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            loaded = list(pool.map(load, files, chunksize=64))
    else:
        loaded = [load(path) for path in files]
    docs: dict[str, Document] = {}
    errors: list[str] = []
    for item in loaded:
        if isinstance(item, str):
            errors.append(item)
        else:
            docs[item.doc_id] = item
    return docs, errors


def iter_release_paths(paths: list[str | Path]) -> Iterator[Path]:
    """Expand files and folders (recursively, sorted) into release file paths."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
        elif path.exists():
            yield path
        else:
            raise UnsupportedDocument(f"{path} does not exist")
