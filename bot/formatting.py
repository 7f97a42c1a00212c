"""How answers read: plain text for the console, escaped HTML (<= 4096 chars) for Telegram."""

from __future__ import annotations

import html
import re
import textwrap

from retrieval.ranking.search import Answer, Hit
from retrieval.text.sentences import answer_spans
from retrieval.text.words import word_tokens

TELEGRAM_LIMIT = 4096
NOT_FOUND_EN = "I could not find this in the announcements. Try rephrasing the question."


def excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain_answer(answer: Answer, generated=None) -> str:
    """The generated answer (where there is one), the answer sentence, then numbered
    passages with title, date and link."""
    if not answer.found:
        return NOT_FOUND_EN
    lines = []
    if generated is not None:
        said = generated.text or "The releases below do not say."
        lines += [textwrap.fill(f"Generated ({generated.model}): {said}", 100), ""]
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


# -- Telegram HTML ---------------------------------------------------------


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def matched_span(hit: Hit, answer: Answer) -> tuple[int, int] | None:
    """The sentence of a passage to highlight: the answer sentence where it lies in this
    passage, else the sentence sharing most words with the question."""
    s = answer.sentence
    if s and s.chunk_id == hit.chunk.chunk_id:
        return s.start, s.end
    spans = answer_spans(hit.chunk.text)
    if not spans:
        return None
    question = set(word_tokens(answer.question))
    overlap = [len(question & set(word_tokens(hit.chunk.text[a:b]))) for a, b in spans]
    best = max(range(len(spans)), key=lambda i: overlap[i])
    return spans[best] if overlap[best] else None


def excerpt_html(text: str, span: tuple[int, int] | None, context: int = 140) -> str:
    """A short excerpt around ``span`` with that sentence underlined; escaped."""
    if span is None:
        return esc(excerpt(text, 2 * context + 60))
    a, b = span
    b = min(b, a + 600)  # a very long sentence: show its start
    left, right = text[max(0, a - context) : a], text[b : b + context]
    if a > context:  # drop the cut-off first word
        left = "…" + (left.split(" ", 1)[1] if " " in left else left)
    if b + context < len(text):
        right = (right.rsplit(" ", 1)[0] if " " in right else right) + "…"
    pre, mid, post = (" ".join(x.split()) for x in (left, text[a:b], right))
    return f"{esc(pre)} <u>{esc(mid)}</u> {esc(post)}".strip()


def source_html(hit: Hit, number: int) -> str:
    doc = hit.document
    title = esc(excerpt(doc.title, 200))
    head = f"<b>{number}. {title}</b>"
    meta = esc(doc.date or "")
    if doc.url and re.match(r"^https?://", doc.url):
        link = f'<a href="{html.escape(doc.url, quote=True)}">{esc(doc.url)}</a>'
        meta = f"{meta} · {link}" if meta else link
    return f"{head}\n{meta}" if meta else head


def answer_blocks(answer: Answer, start: int = 0) -> list[str]:
    """HTML blocks: the question, the answer sentence (bold), then each passage with its
    highlighted excerpt and source. Every block is well-formed on its own."""
    blocks = [f"❓ <i>{esc(excerpt(answer.question, 300))}</i>"]
    if answer.sentence and start == 0:
        blocks.append(f"<b>{esc(excerpt(answer.sentence.text, 900))}</b>")
    for i, hit in enumerate(answer.hits, start + 1):
        blocks.append(
            f"{source_html(hit, i)}\n{excerpt_html(hit.chunk.text, matched_span(hit, answer))}"
        )
    return blocks


def generated_html(generated, hits: list[Hit], label: str, not_found: str) -> str | None:
    """The generated answer as escaped HTML, each citation [n] a link to passage n's
    release; None where it would not fit a message."""
    if generated.not_found:
        body = esc(not_found)
    else:

        def link(m: re.Match) -> str:
            n = int(m.group(1))
            url = hits[n - 1].document.url if 0 < n <= len(hits) else None
            return f'<a href="{html.escape(url, quote=True)}">[{n}]</a>' if url else m.group(0)

        body = re.sub(r"\[(\d+)\]", link, esc(generated.text))
    block = f"💬 {body}\n<i>{esc(label)}</i>"
    return block if len(block) <= TELEGRAM_LIMIT else None


def pack_blocks(blocks: list[str], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Join blocks with blank lines into messages of at most ``limit`` characters,
    splitting only between blocks (never inside a tag)."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        if len(block) > limit:
            raise ValueError("an HTML block is longer than a Telegram message")
        candidate = f"{current}\n\n{block}" if current else block
        if len(candidate) > limit:
            messages.append(current)
            current = block
        else:
            current = candidate
    if current:
        messages.append(current)
    return messages


def split_plain(text: str, limit: int) -> list[str]:
    """Cut plain text into pieces whose escaped form fits ``limit``: at paragraph
    breaks, else at spaces, else anywhere."""
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if len(esc(rest)) <= limit:
            pieces.append(rest)
            break
        lo, hi = 1, min(len(rest), limit)  # the longest prefix whose escaped form fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(esc(rest[:mid])) <= limit:
                lo = mid
            else:
                hi = mid - 1
        cut = lo
        window = rest[:cut]
        at = window.rfind("\n")
        if at < limit // 3:
            at = window.rfind(" ")
        if at < limit // 3:
            at = cut
        pieces.append(rest[:at].strip())
        rest = rest[at:].strip()
    return [p for p in pieces if p]


def release_messages(title: str, date: str | None, url: str | None, text: str) -> list[str]:
    """The whole release as HTML messages, each at most 4096 characters."""
    head = source_html_plain(title, date, url)
    blocks = [head] + [esc(p) for p in split_plain(text, TELEGRAM_LIMIT - 100)]
    return pack_blocks(blocks)


def source_html_plain(title: str, date: str | None, url: str | None) -> str:
    parts = [f"<b>{esc(excerpt(title, 300))}</b>"]
    if date:
        parts.append(esc(date))
    if url and re.match(r"^https?://", url):
        parts.append(f'<a href="{html.escape(url, quote=True)}">{esc(url)}</a>')
    return "\n".join(parts)
