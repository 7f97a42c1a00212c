"""Parse the thaigov.go.th release format (and plain text) into a Document.

A release looks like::

    รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-<title>
    <blank lines>
    วันพฤหัสบดีที่ 7 ตุลาคม 2564
    [พิมพ์]
    <title again>
    <body ...>
    *************
    ที่มา : https://www.thaigov.go.th/news/contents/details/46681
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from corpus.models import Document, UnsupportedDocument

TITLE_PREFIXES = ("รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-", "รัฐบาลไทย-")

THAI_MONTHS = {
    "มกราคม": 1, "กุมภาพันธ์": 2, "มีนาคม": 3, "เมษายน": 4, "พฤษภาคม": 5, "มิถุนายน": 6,
    "กรกฎาคม": 7, "สิงหาคม": 8, "กันยายน": 9, "ตุลาคม": 10, "พฤศจิกายน": 11, "ธันวาคม": 12,
    "ม.ค.": 1, "ก.พ.": 2, "มี.ค.": 3, "เม.ย.": 4, "พ.ค.": 5, "มิ.ย.": 6,
    "ก.ค.": 7, "ส.ค.": 8, "ก.ย.": 9, "ต.ค.": 10, "พ.ย.": 11, "ธ.ค.": 12,
}  # fmt: skip

THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")

# Zero-width and invisible characters that only get in the way of matching, and the
# kinds of space that become a plain one (translate tables, shared with retrieval).
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u3000\t\u000b\u000c\r"), " ")
# Control characters other than line ends and tabs (NUL, backspace, escape, DEL) are
# never text: dropped, so that a release made only of them counts as empty.
CONTROLS = dict.fromkeys([c for c in range(32) if chr(c) not in "\t\n\r\v\f"] + [0x7F], None)

_DATE_LINE = re.compile(
    r"^\s*(?:วัน\S*?ที่)?\s*(?P<day>\d{1,2})\s+(?P<month>[\u0e00-\u0e7f.]+)\s+(?P<year>\d{4})\s*$"
)
_SOURCE_LINE = re.compile(r"^\s*ที่มา\s*:?\s*(?P<url>https?://\S+)\s*$")
_NEWS_ID = re.compile(r"thaigov\.go\.th/.*?/details/(?P<id>\d+)")
_STARS = re.compile(r"^\s*\*{3,}\s*")
_BOILERPLATE = {"พิมพ์", "print"}
# The site's placeholder for releases without a date (the Unix epoch in the Buddhist era).
_PLACEHOLDER_YEAR = 2513


def clean_text(text: str) -> str:
    """Normalise line ends, spaces and invisible characters; keep the text otherwise as is."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.translate(INVISIBLE).translate(SPACES).translate(CONTROLS)
    text = unicodedata.normalize("NFC", text)
    lines = [re.sub(r" {2,}", " ", line).strip() for line in text.split("\n")]
    return "\n".join(lines)


def parse_thai_date(line: str) -> str | None:
    """``วันพฤหัสบดีที่ 7 ตุลาคม 2564`` -> ``2021-10-07``; None if the line is not such a date."""
    m = _DATE_LINE.match(line.translate(THAI_DIGITS))
    if not m:
        return None
    month = THAI_MONTHS.get(m["month"])
    if month is None:
        return None
    day, year = int(m["day"]), int(m["year"])
    if year > 2400:  # Buddhist era
        year -= 543
    if not 1 <= day <= 31:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def detect_lang(text: str) -> str:
    """``th`` when Thai letters are at least a quarter of the letters, else ``en``."""
    thai = sum(1 for ch in text if "\u0e00" <= ch <= "\u0e7f")
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return "th" if thai * 3 >= latin else "en"


def content_id(title: str, body: str) -> str:
    """A stable id for text without a thaigov news id."""
    digest = hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()
    return f"h{digest[:16]}"


def release_id(url: str | None, title: str, body: str) -> str:
    """The thaigov news id in ``url``, else ``content_id``."""
    news_id = _NEWS_ID.search(url or "")
    return news_id["id"] if news_id else content_id(title, body)


def headed_document(
    lines: list[str], title: str, name: str, *, date: str | None = None, url: str | None = None
) -> Document:
    """A Document of a page's or a file's non-empty ``lines`` under ``title`` (else
    their first line), the headline not repeated as the text's first line."""
    title = title.strip() or lines[0][:200]
    if lines[0] == title:
        lines = lines[1:]
    body = "\n".join(lines)
    if not body.strip():
        raise UnsupportedDocument(f"{name} has a title but no text")
    return Document(
        doc_id=release_id(url, title, body),
        title=title,
        date=date,
        url=url,
        lang=detect_lang(f"{title}\n{body}"),
        text=body,
        source_path=name,
    )


def strip_title_prefix(title: str) -> str:
    for prefix in TITLE_PREFIXES:
        if title.startswith(prefix):
            return title[len(prefix) :].strip()
    return title.strip()


def parse_release(raw: str, source_path: str | None = None) -> Document:
    """Parse one release (thaigov format, or plain text whose first line is the title)."""
    text = clean_text(raw)
    lines = text.split("\n")
    nonblank = [i for i, line in enumerate(lines) if line]
    if not nonblank:
        raise UnsupportedDocument("the document is empty")

    title = strip_title_prefix(lines[nonblank[0]])
    rest = lines[nonblank[0] + 1 :]

    date = None
    for i, line in enumerate(rest):
        if not line:
            continue
        parsed = parse_thai_date(line)
        if parsed is not None:
            date = None if int(parsed[:4]) + 543 == _PLACEHOLDER_YEAR else parsed
            rest = rest[i + 1 :]
        break

    url = None
    body_lines: list[str] = []
    for line in rest:
        source = _SOURCE_LINE.match(line)
        if source:
            url = source["url"]
            continue
        if line.lower() in _BOILERPLATE:
            continue
        line = _STARS.sub("", line)
        body_lines.append(line)

    body = _dedupe_lead(body_lines, title)
    if not title and body:
        title = body.split("\n", 1)[0][:200]
    if not body.strip():
        raise UnsupportedDocument("the document has a title but no text")

    return Document(
        doc_id=release_id(url, title, body),
        title=title,
        date=date,
        url=url,
        lang=detect_lang(title + "\n" + body),
        text=body,
        source_path=source_path,
    )


def _dedupe_lead(lines: list[str], title: str) -> str:
    """Drop repeated titles and lead lines that the next line repeats in full."""
    kept: list[str] = []
    nonblank = [line for line in lines if line]
    for i, line in enumerate(nonblank):
        if line == title:
            continue
        following = nonblank[i + 1] if i + 1 < len(nonblank) else ""
        if len(line) >= 20 and following.startswith(line.rstrip(" .…,")):
            continue
        if kept and kept[-1] == line:
            continue
        kept.append(line)
    return "\n".join(kept).strip()
