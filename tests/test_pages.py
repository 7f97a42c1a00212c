"""Releases out of HTML pages and PDF files (corpus/html_release.py, pdf_release.py)."""

from __future__ import annotations

import glob
import os
import re
from dataclasses import replace

import pytest

from corpus.loader import iter_release_paths, load_bytes, load_path
from corpus.models import EmptyRelease, UnsupportedDocument
from corpus.pdf_release import thai_order
from tests.conftest import sample_file
from tests.pages import HOSTILE_WORDS, empty_release_page, release_parts, thaigov_page


@pytest.mark.parametrize("doc_id", ["46681", "60666", "47004"])
def test_a_thaigov_page_reads_as_the_same_release_as_its_txt(doc_id):
    path = sample_file(doc_id)
    page = thaigov_page(path).encode()
    doc = load_bytes(page, "page.html")
    assert replace(doc, source_path=None, section=None) == replace(
        load_path(path), source_path=None
    )
    assert doc.section == "ด้านความมั่นคง"
    for word in HOSTILE_WORDS:  # scripts, styles, frames, the menu: none reach the text
        assert word not in doc.text and word not in doc.title


def test_a_saved_page_without_its_address_keeps_its_text():
    doc = load_bytes(thaigov_page(sample_file("46681"), canonical=False).encode(), "saved.html")
    assert doc.url is None and doc.doc_id.startswith("h")
    assert doc.text == load_path(sample_file("46681")).text


def test_a_page_of_an_empty_news_id_holds_no_release():
    with pytest.raises(EmptyRelease, match="holds no release"):
        load_bytes(empty_release_page().encode(), "50000.html")


def test_a_news_article_page_gives_its_article_title_date_and_address():
    _, body, _ = release_parts(sample_file("60666"))
    paragraphs = "".join(f"<p>{line}</p>" for line in body)
    page = f"""<html><head><title>AMCC 7 - Example News</title>
    <link rel="canonical" href="https://news.example.org/2022/amcc-7">
    <meta property="article:published_time" content="2022-09-21T09:00:00+07:00">
    <script>alert("INJECTED")</script></head><body>
    <nav>MENU-TEXT <a href="/">Home</a></nav>
    <article><h1>AMCC 7</h1>{paragraphs}</article>
    <footer>FOOTER-TEXT</footer></body></html>"""
    doc = load_bytes(page.encode(), "article.html")
    assert doc.title == "AMCC 7"
    assert doc.date == "2022-09-21"
    assert doc.url == "https://news.example.org/2022/amcc-7"
    assert body[-1][:40] in doc.text
    for word in HOSTILE_WORDS:
        assert word not in doc.text


@pytest.mark.parametrize(
    ("page", "message"),
    [
        ("<html><body><nav><a href='/'>Home</a></nav></body></html>", "without an article"),
        ("<html><script>" + "x" * 5000 + "</script></html>", "without an article"),
        ("<!DOCTYPE html><html><body>" + "<div>" * 5000 + "ข่าว</body></html>", "page.html"),
    ],
)
def test_html_that_is_no_article_gets_one_sentence(page, message):
    with pytest.raises(UnsupportedDocument, match=message) as caught:
        load_bytes(page.encode(), "page.html")
    assert "\n" not in str(caught.value)


def test_a_thai_page_in_its_own_charset_is_decoded():
    page = thaigov_page(sample_file("46681")).replace('charset="utf-8"', 'charset="windows-874"')
    doc = load_bytes(page.encode("cp874", errors="strict"), "tis.html")
    assert doc.text == load_path(sample_file("46681")).text


def test_html_and_pdf_files_are_walked_beside_txt(tmp_path):
    (tmp_path / "a.html").write_text(thaigov_page(sample_file("46681")), encoding="utf-8")
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "c.json").write_text("{}")
    assert [p.name for p in iter_release_paths([tmp_path])] == ["a.html", "b.pdf"]


# -- PDF -------------------------------------------------------------------------


def _font() -> str:
    import fontpkg_sarabun

    (path,) = glob.glob(os.path.join(fontpkg_sarabun.ROOT, "files", "Sarabun-Regular.ttf"))
    return path


def _pdf(lines: list[str], title: str | None = None, *, text: bool = True) -> bytes:
    """A PDF whose text layer is ``lines`` in a Thai font (or a page of shapes only)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    if title:
        pdf.set_title(title)
    if text:
        pdf.add_font("Sarabun", "", _font())
        pdf.set_font("Sarabun", size=12)
        for line in lines:
            pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    else:  # a scanned page: pictures, no text
        pdf.rect(20, 20, 100, 60, style="F")
    return bytes(pdf.output())


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_a_pdf_with_a_thai_text_layer_reads_in_the_order_of_its_txt():
    txt = load_path(sample_file("46681"))
    lines = txt.text.split("\n")[:6]
    doc = load_bytes(_pdf(lines, title=txt.title), "notice.pdf")
    assert doc.title == txt.title
    # lines wrap where the page does; every vowel and tone mark is where the .txt has it
    assert squash(doc.text) == squash("".join(lines))
    assert doc.lang == "th"


def test_a_pdf_without_a_title_takes_its_first_line():
    doc = load_bytes(
        _pdf(["ประกาศสำนักนายกรัฐมนตรี", "เรื่อง การกำหนดวันหยุดราชการเพิ่มเป็นกรณีพิเศษ"]), "n.pdf"
    )
    assert doc.title == "ประกาศสำนักนายกรัฐมนตรี"
    assert "วันหยุดราชการ" in doc.text


def test_glyph_order_a_pdf_may_give_is_put_back():
    """Sara am as nikhahit + sara aa, a tone mark before the vowel above, sara e twice."""
    assert thai_order("น\u0e49\u0e4d\u0e32ท่วม") == "น้ำท่วม"
    assert thai_order("ป\u0e48\u0e31นจักรยาน") == "ปั่นจักรยาน"
    assert thai_order("\u0e40\u0e40ก้ไข") == "แก้ไข"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_pdf([], text=False), "without a text layer"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", "cannot be read"),
        (b"%PDF-" + bytes(range(256)) * 8, "cannot be read"),
    ],
)
def test_a_scanned_or_broken_pdf_gets_one_sentence(data, message):
    with pytest.raises(UnsupportedDocument, match=message) as caught:
        load_bytes(data, "scan.pdf")
    assert str(caught.value).startswith("scan.pdf") and "\n" not in str(caught.value)
