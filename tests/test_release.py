from __future__ import annotations

import pytest

from corpus.models import UnsupportedDocument
from corpus.release import parse_release, parse_thai_date
from tests.conftest import sample_file


def test_real_release_46681_is_parsed_exactly():
    doc = parse_release(sample_file("46681").read_text(encoding="utf-8"))
    assert doc.doc_id == "46681"
    assert doc.title.startswith("ผู้ช่วยรัฐมนตรีประจำกระทรวงดิจิทัล")
    assert not doc.title.startswith("รัฐบาลไทย")
    assert doc.date == "2021-10-07"
    assert doc.url == "https://www.thaigov.go.th/news/contents/details/46681"
    assert doc.lang == "th"
    assert doc.text.startswith("เมื่อวันที่ 6 ตุลาคม 2564")
    assert "H.E. Mrs. Josephine Teo" in doc.text
    assert doc.title not in doc.text  # the repeated title lines are gone
    assert "*****" not in doc.text and "ที่มา" not in doc.text
    assert "\u00a0" not in doc.text


@pytest.mark.parametrize(
    ("line", "iso"),
    [
        ("วันพฤหัสบดีที่ 7 ตุลาคม 2564", "2021-10-07"),
        ("วันจันทร์ที่ ๑๑ ตุลาคม ๒๕๖๔", "2021-10-11"),
        ("วันศุกร์ที่ 1 ม.ค. 2564", "2021-01-01"),
        ("7 ตุลาคม 2021", "2021-10-07"),
        ("วันพฤหัสบดีที่ 7 Octember 2564", None),
        ("ผู้ช่วยรัฐมนตรี", None),
    ],
)
def test_thai_date_lines(line, iso):
    assert parse_thai_date(line) == iso


def release(body: str, *, date="วันพุธที่ 6 ตุลาคม 2564", title="ข่าวทดสอบ", url_id="123") -> str:
    return (
        f"รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-{title}\n\n\n{date}\n{title}\n{body}\n*************\n\n"
        f"ที่มา : https://www.thaigov.go.th/news/contents/details/{url_id}"
    )


def test_boilerplate_bom_crlf_nbsp_and_zero_width_are_cleaned():
    raw = "\ufeff" + release("พิมพ์\r\nนายก\u00a0รัฐมนตรี\u200bกล่าว  ว่า").replace("\n", "\r\n")
    doc = parse_release(raw)
    assert doc.title == "ข่าวทดสอบ"
    assert doc.text == "นายก รัฐมนตรีกล่าว ว่า"
    assert doc.doc_id == "123"


def test_placeholder_date_means_no_date():
    doc = parse_release(release("เนื้อหา", date="วันพฤหัสบดีที่ 1 มกราคม 2513"))
    assert doc.date is None


def test_release_without_body_is_refused():
    with pytest.raises(UnsupportedDocument, match="no text"):
        parse_release(
            "รัฐบาลไทย-\n\n\nวันพฤหัสบดีที่ 1 มกราคม 2513\n\nที่มา : https://www.thaigov.go.th/news/contents/details/74383"
        )


def test_plain_text_first_line_is_title_and_id_is_a_content_hash():
    doc = parse_release("\n\nMy announcement\nThe ministry announced a new policy today.\n")
    assert doc.title == "My announcement"
    assert doc.text == "The ministry announced a new policy today."
    assert doc.lang == "en" and doc.date is None and doc.url is None
    assert doc.doc_id.startswith("h") and len(doc.doc_id) == 17
    assert (
        parse_release("My announcement\nThe ministry announced a new policy today.").doc_id
        == doc.doc_id
    )


def test_english_release_lang_and_truncated_lead_dropped():
    doc = parse_release(sample_file("47004").read_text(encoding="utf-8"))
    assert doc.lang == "en"
    assert doc.date == "2021-10-15"
    first, second = doc.text.split("\n")[:2]
    assert not second.startswith(first)


def test_empty_text_is_refused():
    with pytest.raises(UnsupportedDocument, match="empty"):
        parse_release(" \n\u200b\n ")
