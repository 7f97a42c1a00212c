"""Releases out of HTML pages: a thaigov.go.th release page read the way the corpus's
own crawler read it, or any news page's article through trafilatura.

A thaigov page's ``<title>`` is ``รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-`` and the release's
title (only the prefix: the news id holds no release); its body is the text of
``div.border-normal.clearfix`` (the date line, the title again, the paragraphs), its
section a ``span.headtitle-2``. Written out as the corpus's .txt (title, blank line,
the body's non-empty lines, blank line, ``ที่มา : <url>``), it parses into the same
Document as the release's .txt. Scripts, styles and every other element that is not
text are dropped before any text is read.
"""

from __future__ import annotations

import re
from dataclasses import replace

import lxml.html
from lxml import etree

from corpus.models import Document, EmptyRelease, UnsupportedDocument
from corpus.release import TITLE_PREFIXES, clean_text, headed_document, parse_release

THAIGOV_PREFIX = TITLE_PREFIXES[0]
# elements whose content is never a release's text
_NOT_TEXT = ("script", "style", "noscript", "template", "iframe", "object", "embed",
             "svg", "math", "form", "button", "select", "textarea", "head")  # fmt: skip
# elements after which a line ends
_BLOCKS = frozenset(
    "p div br li ul ol tr table h1 h2 h3 h4 h5 h6 blockquote section article header "
    "footer pre hr dd dt".split()
)
MIN_ARTICLE_CHARS = 80  # less than this is a page's furniture, not an article


def _tree(html: str, name: str):
    try:
        tree = lxml.html.document_fromstring(html)
    except (etree.LxmlError, ValueError):
        raise UnsupportedDocument(f"{name} is not an HTML page that can be read") from None
    return tree


def _page_url(tree, url: str | None) -> str | None:
    """The page's own address: its canonical link, its og:url, else where it was
    fetched from."""
    for xpath in ('//link[@rel="canonical"]/@href', '//meta[@property="og:url"]/@content'):
        found = [u.strip() for u in tree.xpath(xpath)]
        found = [u for u in found if u.startswith(("http://", "https://"))]
        if found:
            return found[0]
    return url


def _lines(element) -> list[str]:
    """The element's text, a line per block and ``<br>``, without its non-text
    elements; the element is changed."""
    for bad in element.xpath(".//" + " | .//".join(_NOT_TEXT)):
        bad.drop_tree()
    for el in element.iter(etree.Element):
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCKS:
            el.tail = "\n" + (el.tail or "")
            if el.tag.lower() == "br":
                continue
            el.text = "\n" + (el.text or "")
    text = clean_text(element.text_content())
    return [line for line in text.split("\n") if line]


def _has_class(*names: str) -> str:
    """An XPath test: the element's class attribute holds every one of ``names``."""
    test = 'contains(concat(" ", normalize-space(@class), " "), " {} ")'
    return " and ".join(test.format(n) for n in names)


def thaigov_release(tree, name: str, url: str | None) -> Document | None:
    """The release of a thaigov.go.th page, or None where the page is not one."""
    title = (tree.findtext(".//title") or "").strip()
    bodies = tree.xpath(f"//div[{_has_class('border-normal', 'clearfix')}]")
    if not title.startswith(THAIGOV_PREFIX) or not bodies:
        return None
    if not title[len(THAIGOV_PREFIX) :].strip():
        raise EmptyRelease(f"{name} is a thaigov.go.th page that holds no release")
    sections = tree.xpath(f"//span[{_has_class('headtitle-2')}]")
    section = clean_text(sections[0].text_content()).strip() if sections else ""
    page_url = _page_url(tree, url)
    lines = [line for body in bodies for line in _lines(body)]
    source = f"\n\nที่มา : {page_url}" if page_url else ""
    text = f"{clean_text(title)}\n\n" + "\n".join(lines) + source
    doc = parse_release(text, source_path=name)
    return replace(doc, section=section or None)


def article(html: str, name: str, url: str | None) -> Document:
    """The article of any news page (trafilatura: its main text, title, date and
    canonical address); one sentence where it holds none."""
    import trafilatura

    found = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_links=False,
        include_images=False,
        # the page's own date, not one guessed from its words
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    body = clean_text(found.text or "") if found is not None else ""
    if len(body.strip()) < MIN_ARTICLE_CHARS:
        raise UnsupportedDocument(f"{name} is an HTML page without an article to add")
    date = found.date if found.date and re.fullmatch(r"\d{4}-\d\d-\d\d", found.date) else None
    lines = [line for line in body.split("\n") if line]
    return headed_document(lines, clean_text(found.title or ""), name, date=date,
                           url=found.url or url)  # fmt: skip


def parse_html(html: str, name: str, url: str | None = None) -> Document:
    """A release out of an HTML page (``url``: where it was fetched from, if it was)."""
    tree = _tree(html, name)
    doc = thaigov_release(tree, name, url)
    return doc if doc is not None else article(html, name, url)
