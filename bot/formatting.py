"""How answers read: plain text for the console (Telegram HTML comes with the bot)."""

from __future__ import annotations

import textwrap

from retrieval.search import Answer

NOT_FOUND_EN = "I could not find this in the announcements. Try rephrasing the question."
NOT_FOUND_TH = "ไม่พบคำตอบในประกาศที่มีอยู่ ลองเรียบเรียงคำถามใหม่"


def excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain_answer(answer: Answer) -> str:
    """The answer sentence, then numbered passages with title, date and link."""
    if not answer.found:
        return NOT_FOUND_EN
    lines = []
    if answer.sentence:
        lines.append(textwrap.fill(" ".join(answer.sentence.text.split()), 100))
        lines.append("")
    for i, hit in enumerate(answer.hits, 1):
        doc = hit.document
        lines.append(f"[{i}] {doc.title} ({doc.date or 'no date'})")
        if doc.url:
            lines.append(f"    {doc.url}")
        lines.append(textwrap.indent(textwrap.fill(excerpt(hit.chunk.text), 96), "    "))
    return "\n".join(lines)
