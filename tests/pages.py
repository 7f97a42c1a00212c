"""Pages in thaigov.go.th's structure made from the sample's real releases, with the
site's furniture and some hostile markup around them, for the HTML and fetch tests."""

from __future__ import annotations

import html
from pathlib import Path

PREFIX = "รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-"


def release_parts(path: Path) -> tuple[str, list[str], str]:
    """(title line, the body's non-empty lines, source URL) of a sample release file."""
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    title = lines[0].strip()
    url = ""
    body = []
    for line in lines[1:]:
        if line.startswith("ที่มา"):
            url = line.split(":", 1)[1].strip()
        elif line.strip():
            body.append(line.strip())
    return title, body, url


def thaigov_page(path: Path, section: str = "ด้านความมั่นคง", *, canonical: bool = True) -> str:
    """The release page of a sample release, as the site serves it."""
    title, body, url = release_parts(path)
    paragraphs = "".join(f"<p>{html.escape(line)}</p>\n" for line in body)
    link = f'<link rel="canonical" href="{html.escape(url)}">' if canonical else ""
    return f"""<!DOCTYPE html>
<html lang="th"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>{link}
<script>window.alert("INJECTED-SCRIPT");
var s = "<div class='border-normal clearfix'>x</div>";</script>
<style>.INJECTED-STYLE {{ color: red }}</style>
</head><body>
<nav><a href="/">หน้าหลัก</a> <a href="/news">ข่าวทำเนียบรัฐบาล</a> MENU-TEXT</nav>
<span class="headtitle-2">{html.escape(section)}</span>
<div class="border-normal clearfix">
{paragraphs}<script>document.write("INJECTED-BODY-SCRIPT")</script>
<noscript>INJECTED-NOSCRIPT</noscript><iframe src="https://evil.example/">INJECTED-IFRAME</iframe>
</div>
<footer>สำนักโฆษก FOOTER-TEXT</footer>
</body></html>"""


def empty_release_page() -> str:
    """The site's page for a news id that holds no release."""
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{PREFIX}</title></head>
<body><span class="headtitle-2"></span><div class="border-normal clearfix"></div></body></html>"""


HOSTILE_WORDS = ("INJECTED", "MENU-TEXT", "FOOTER-TEXT", "alert", "evil.example")
