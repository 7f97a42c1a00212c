from __future__ import annotations

import codecs

import pytest

from corpus.loader import iter_release_paths, load_bytes, load_path
from corpus.models import UnsupportedDocument

GOOD = "รัฐบาลไทย-ข่าวทดสอบ\n\nวันพุธที่ 6 ตุลาคม 2564\nเนื้อหาข่าว\n\nที่มา : https://www.thaigov.go.th/news/contents/details/9"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"  \n\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        (b"%PDF-1.7\n", "PDF that cannot be read"),
        ("ข่าว".encode() + b"\xff\xfe\xfa", "not valid UTF-8"),
        (b"title\nbody\x00with nul", "NUL bytes"),
        (b"<html><body><script>alert(1)</script></body></html>", "HTML page without an article"),
        (b"\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\x11 text", "control characters"),
    ],
)
def test_bad_bytes_get_one_clear_error(data, message):
    with pytest.raises(UnsupportedDocument, match=message) as caught:
        load_bytes(data, "upload.txt")
    assert str(caught.value).startswith("upload.txt")  # which of many files it was


def test_a_release_with_a_title_and_no_text_is_named_in_its_error(tmp_path):
    path = tmp_path / "2021" / "title-only.txt"
    path.parent.mkdir()
    path.write_text("รัฐบาลไทย-ข่าวทดสอบ\n\nวันพุธที่ 6 ตุลาคม 2564\nข่าวทดสอบ\n", encoding="utf-8")
    with pytest.raises(UnsupportedDocument) as caught:
        load_path(path)
    assert str(caught.value) == f"{path}: the document has a title but no text"


def test_utf16_and_utf8_bom_are_accepted():
    for data in (codecs.BOM_UTF16_LE + GOOD.encode("utf-16-le"), codecs.BOM_UTF8 + GOOD.encode()):
        doc = load_bytes(data, "win.txt")
        assert doc.doc_id == "9" and doc.title == "ข่าวทดสอบ" and doc.text == "เนื้อหาข่าว"


def test_size_limit(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * 2000)
    with pytest.raises(UnsupportedDocument, match="over the"):
        load_path(path, max_bytes=1000)


def test_unknown_suffix_and_missing_path(tmp_path):
    path = tmp_path / "release.docx"
    path.write_text(GOOD)
    with pytest.raises(UnsupportedDocument, match=r"not a .txt, .md, .html or .pdf"):
        load_path(path)
    with pytest.raises(UnsupportedDocument, match="does not exist"):
        list(iter_release_paths([tmp_path / "nope"]))


def test_folders_are_walked_for_txt_and_md(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text(GOOD)
    (tmp_path / "two.md").write_text("Title\nBody")
    (tmp_path / "skip.json").write_text("{}")
    names = [p.name for p in iter_release_paths([tmp_path])]
    assert names == ["one.txt", "two.md"]


def test_many_files_read_in_processes_give_what_one_process_gives(tmp_path):
    import shutil

    from corpus.loader import MIN_FILES_FOR_PROCESSES, load_releases
    from tests.conftest import SAMPLE, sample_file

    folder = tmp_path / "releases"
    shutil.copytree(SAMPLE, folder)
    (folder / "zz_bad.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (folder / "zz_again_46681.txt").write_text(  # a later file with the same id wins
        sample_file("46681").read_text(encoding="utf-8").replace("Josephine Teo", "J. Teo"),
        encoding="utf-8",
    )
    assert len(list(folder.glob("*.txt"))) >= MIN_FILES_FOR_PROCESSES
    one = load_releases([folder], workers=1)
    two = load_releases([folder], workers=2)
    assert one == two
    docs, errors = two
    assert len(docs) >= 248 and "J. Teo" in docs["46681"].text
    assert errors == [f"{folder / 'zz_bad.txt'} is a PNG image, not a text release"]
