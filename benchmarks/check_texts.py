"""Write retrieval/encoder/check_texts.jsonl: the texts every encoder copy is checked on before
it serves (retrieval/encoder/choice.py).

    python benchmarks/check_texts.py

Release passages of the bundled sample exactly as `prakat index rebuild` embeds them,
taken between the ones int8 calibrates on (retrieval/encoder/calibration.jsonl), so that the
check is not the calibration; whole releases (past the model's 512-token limit); and
written texts of the kinds that have broken encoders: full-width letters and digits,
Thai digits, numbers and dates, one-word and mixed-script questions. The file is
committed: the check must not change with the corpus a user happens to have.
"""

from __future__ import annotations

import json

from common import ROOT, sample_release_passages

PASSAGES = 20
LONG = 3
WRITTEN = [
    ("query", "who chaired the 6th ASEAN Ministerial Conference on Cybersecurity?"),
    ("query", "ใครเป็นประธานการประชุมรัฐมนตรีอาเซียนด้านไซเบอร์ ครั้งที่ 6"),
    ("query", "what did the cabinet approve on 12 October 2021?"),
    ("query", "ครม. อนุมัติอะไรบ้างเมื่อวันที่ ๑๒ ตุลาคม ๒๕๖๔"),
    ("query", "ข่าวล่าสุดเรื่องวัคซีนโควิด-19"),
    ("query", "How many doses of vaccine did Japan donate?"),
    ("query", "งบประมาณโครงการประกันรายได้เกษตรกรผู้ปลูกข้าว ปี 2565/66 กี่ล้านบาท"),
    ("query", "ＡＳＥＡＮ　ｃｙｂｅｒｓｅｃｕｒｉｔｙ　２０２１"),
    ("query", "ＡＭＣＣ　ครั้งที่　６"),
    ("query", "ข้าว"),
    ("query", "AMCC"),
    ("query", "PM2.5"),
    ("query", "1/2567"),
    ("query", "แล้วครั้งที่ 7 ใครเป็นประธาน"),
    ("query", "Thailand–Japan cooperation on digital economy (MDES)"),
    ("query", "มาตรการลดค่าครองชีพ ค่าไฟฟ้า 3.99 บาทต่อหน่วย"),
    ("passage", "ที่ประชุมคณะรัฐมนตรีอนุมัติงบกลาง ๑,๒๓๔.๕๖ ล้านบาท ณ วันที่ ๓๑ มีนาคม ๒๕๖๕"),
    ("passage", "อัตราเงินเฟ้อ 2.1% ดัชนี 103.45 จุด ส่งออก 25,000 ล้านดอลลาร์สหรัฐ (+12.5% YoY)"),
    ("passage", "Ｔｈｅ　Ｐｒｉｍｅ　Ｍｉｎｉｓｔｅｒ　ｍｅｔ　ｔｈｅ　ａｍｂａｓｓａｄｏｒ"),
    ("passage", "ประกาศ"),
]


def main() -> None:
    from retrieval.encoder.embedder import Embedder, EmbedderConfig
    from retrieval.index.indexer import embed_text

    ordered, passages = sample_release_passages()
    calibration_file = ROOT / "retrieval" / "encoder" / "calibration.jsonl"
    calibration = {
        json.loads(line)["text"] for line in calibration_file.read_text("utf-8").splitlines()
    }
    step = len(passages) // PASSAGES
    picked = [p for p in passages[step // 2 :: step] if p not in calibration][:PASSAGES]
    rows = [{"kind": "passage", "text": t} for t in picked]
    english = [d for d in ordered if not any("\u0e00" <= ch <= "\u0e7f" for ch in d.title)]
    thai = [d for d in ordered if d not in english]
    for doc in (english[0], thai[len(thai) // 3], thai[2 * len(thai) // 3])[:LONG]:
        rows.append({"kind": "passage", "text": embed_text(doc, doc.text)})
    rows += [{"kind": kind, "text": text} for kind, text in WRITTEN]
    out = ROOT / "retrieval" / "encoder" / "check_texts.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    counter = Embedder(EmbedderConfig(backend="torch", precision="fp32")).load()
    tokens = counter.count_tokens([r["text"] for r in rows])
    kinds = {k: sum(r["kind"] == k for r in rows) for k in ("passage", "query")}
    print(f"{out}: {kinds}, model tokens {min(tokens)}-{max(tokens)}, {sum(tokens)} in all")


if __name__ == "__main__":
    main()
