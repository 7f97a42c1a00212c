"""Pure formatting logic: HTML escaping, message splitting, language choice."""

from __future__ import annotations

import html
import re

from bot.formatting import (
    TELEGRAM_LIMIT,
    answer_blocks,
    excerpt_html,
    pack_blocks,
    release_messages,
    split_plain,
)
from bot.messages import STRINGS, language_of, t
from corpus.models import Chunk, Document
from retrieval.ranking.search import Answer, AnswerSentence, Hit

TAG = re.compile(r"</?(b|i|u|a|code)\b[^>]*>")


def balanced(fragment: str) -> bool:
    stack = []
    for m in TAG.finditer(fragment):
        name = m.group(1)
        if m.group(0).startswith("</"):
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack


def unhtml(fragment: str) -> str:
    return html.unescape(TAG.sub("", fragment))


def test_language_follows_the_question_then_the_user():
    assert language_of("ใครเป็นประธาน") == "th"
    assert language_of("who chaired?") == "en"
    assert language_of("AMCC ครั้งที่ 6") == "th"
    assert language_of("🙂", "th-TH") == "th"
    assert language_of(None, "en") == "en"
    assert set(STRINGS["th"]) == set(STRINGS["en"])  # every string exists in both
    assert t("th", "removed", doc_id="1", chunks=2) == "ลบ 1 แล้ว (2 ข้อความ)"


def test_release_is_split_under_the_limit_with_nothing_lost():
    paragraphs = [f"ย่อหน้าที่ {i} <script>alert('x')</script> & " + "ข้อความ " * 60 for i in range(40)]
    text = "\n".join(paragraphs)
    messages = release_messages("หัวข้อ <b>", "2021-10-07", "https://x/1?a=1&b=2", text)
    assert len(messages) > 1
    assert all(len(m) <= TELEGRAM_LIMIT and balanced(m) for m in messages)
    assert "<script>" not in "".join(messages)
    body = "".join(unhtml(m) for m in messages)
    assert "".join(body.split()).endswith("".join(text.split())[-200:])
    assert "".join(text.split()) in "".join(body.split())
    assert 'href="https://x/1?a=1&amp;b=2"' in messages[0]


def test_split_plain_handles_text_without_spaces():
    text = "ก" * 10000 + "&" * 3000
    pieces = split_plain(text, 1000)
    assert all(len(html.escape(p, quote=False)) <= 1000 for p in pieces)
    assert "".join(pieces) == text


def test_pack_blocks_never_splits_inside_a_block():
    blocks = [f"<b>{i}</b> " + "x" * 1500 for i in range(9)]
    messages = pack_blocks(blocks)
    assert all(len(m) <= TELEGRAM_LIMIT and balanced(m) for m in messages)
    assert sum(m.count("<b>") for m in messages) == 9


def test_answer_blocks_escape_everything_and_underline_the_answer():
    doc = Document("9", "Title <i>&", "2021-10-07", "https://example.org/9", "en", "")
    chunk = Chunk(5, "9", 0, "First sentence here. The <answer> & more. Last one.", 0, 50)
    sentence = AnswerSentence("The <answer> & more.", "9", 5, 21, 41, 0.9)
    answer = Answer("<b>who</b> & why?", sentence, [Hit(chunk, doc, 1.0, 0.9)])
    blocks = answer_blocks(answer)
    joined = "\n\n".join(blocks)
    assert all(balanced(b) for b in blocks)
    assert "&lt;b&gt;who&lt;/b&gt; &amp; why?" in blocks[0]
    assert "<b>The &lt;answer&gt; &amp; more.</b>" in blocks[1]
    assert "<u>The &lt;answer&gt; &amp; more.</u>" in joined
    assert "Title &lt;i&gt;&amp;" in joined


def test_excerpt_marks_the_sentence_in_context():
    text = "word " * 100 + "TARGET SENTENCE." + " tail" * 100
    a = text.index("TARGET")
    out = excerpt_html(text, (a, a + len("TARGET SENTENCE.")))
    assert "<u>TARGET SENTENCE.</u>" in out
    assert out.startswith("…") and out.endswith("…") and len(out) < 400
