"""BM25 over the chunks' full-text table (SQLite FTS5), and the same BM25 computed for
words added to an FTS5 query's results. Mixed into ``Store``, whose connection
(``db``) and lock it uses."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

# The FTS5 'ascii' tokenizer: tokens are runs of anything but ASCII punctuation and
# spaces, with ASCII letters folded to lower case (other letters are left as they are).
# Worked on UTF-8 bytes: bytes.lower() folds ASCII only, and every byte of a non-ASCII
# character is >= 0x80 (str.translate took 33 us a passage, this a few).
_FTS_SEPARATORS = re.compile(rb"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+")
BM25_K1, BM25_B = 1.2, 0.75  # FTS5's bm25() defaults


def _fts_token_bytes(text: str) -> list[bytes]:
    return [t for t in _FTS_SEPARATORS.split(text.encode().lower()) if t]


def fts_tokens(text: str) -> list[str]:
    """``text`` cut into tokens as the full-text table's tokenizer cuts it."""
    return [t.decode() for t in _fts_token_bytes(text)]


def _varint(blob: bytes, at: int) -> tuple[int, int]:
    """An SQLite varint (big-endian, 7 bits a byte, the 9th byte whole) and the offset
    after it."""
    value = 0
    for _ in range(8):
        byte = blob[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at
    return (value << 8) | blob[at], at + 1


class FullText:
    def _rows_in(self, sql: str, keys: Sequence) -> list[tuple]:
        """The rows of ``sql`` whose ``{keys}`` stands for the placeholders of ``keys``
        (``... IN ({keys})``); none for no keys."""
        if not keys:
            return []
        with self._lock:
            return self.db.execute(
                sql.format(keys=",".join("?" * len(keys))), list(keys)
            ).fetchall()

    def lexical_search(self, terms: Sequence[str], limit: int) -> list[tuple[int, float]]:
        """BM25 over the pre-tokenised chunks: ``(chunk_id, score)``, higher is better."""
        quoted = [f'"{t.replace(chr(34), chr(34) * 2)}"' for t in terms if t.strip()]
        if not quoted:
            return []
        query = " OR ".join(quoted)
        with self._lock:
            rows = self.db.execute(
                "SELECT rowid, -bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ?"
                " ORDER BY bm25(chunks_fts) LIMIT ?",
                (query, limit),
            ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def fts_totals(self) -> tuple[int, int]:
        """(rows, tokens) of the full-text table, as its bm25() reads them: FTS5 keeps
        them in the 'averages' record of its data table (id 1: the row count, then each
        column's token count, as varints)."""
        with self._lock:
            row = self.db.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
        if not row or not row[0]:
            return 0, 0
        rows, at = _varint(row[0], 0)
        tokens, _ = _varint(row[0], at)
        return rows, tokens

    def add_bm25(
        self, scored: Sequence[tuple[int, float]], terms: Sequence[str], doc_counts: dict[str, int]
    ) -> list[tuple[int, float]]:
        """``scored`` (rows of ``lexical_search``) with the BM25 of ``terms`` added,
        re-sorted: each row scores what ``lexical_search`` would have given it had the
        terms been in its query too, computed as FTS5's bm25() computes it (same
        tokenizer, IDF, k1, b and average length). ``terms`` are single full-text tokens
        (words the vocabulary holds); ``doc_counts`` holds the rows that contain each."""
        if not scored or not terms:
            return list(scored)
        n_rows, n_tokens = self.fts_totals()
        average = n_tokens / max(1, n_rows) or 1.0  # (no tokens: no row can match)
        idf = {}
        for t in set(terms):
            hits = doc_counts.get(t, 0)
            value = math.log((n_rows - hits + 0.5) / (hits + 0.5))
            idf[t] = value if value > 0 else 1e-6  # as FTS5 does for very common terms
        ids = [cid for cid, _ in scored]
        texts = dict(
            self._rows_in("SELECT rowid, tokens FROM chunks_fts WHERE rowid IN ({keys})", ids)
        )
        wanted = [(t, t.encode()) for t in idf]
        out = []
        for cid, score in scored:
            # the row's tokens as _fts_token_bytes cuts them, counted in C: empty pieces
            # come only before the first separator run and after the last
            pieces = _FTS_SEPARATORS.split(texts.get(cid, "").encode().lower())
            length = len(pieces) - (not pieces[0]) - (len(pieces) > 1 and not pieces[-1])
            tf = {t: pieces.count(b) for t, b in wanted}
            norm = BM25_K1 * (1 - BM25_B + BM25_B * length / average)
            for t in terms:  # a term given twice counts twice, as in an FTS5 query
                if tf[t]:
                    score += idf[t] * tf[t] * (BM25_K1 + 1) / (tf[t] + norm)
            out.append((cid, score))
        out.sort(key=lambda r: r[1], reverse=True)
        return out

    def term_document_counts(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks contain each term (0 for terms the corpus never uses)."""
        wanted = sorted({t for t in terms if t.strip()})
        counts = dict.fromkeys(wanted, 0)
        sql = "SELECT term, doc FROM chunks_vocab WHERE term IN ({keys})"
        counts.update(dict(self._rows_in(sql, wanted)))
        return counts
