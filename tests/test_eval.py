"""`prakat eval` on tiny SQuAD and iApp files written by the test."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from bot.cli import cli

PARAGRAPHS = [
    ("ไซเบอร์", "การประชุมรัฐมนตรีอาเซียนด้านความมั่นคงปลอดภัยไซเบอร์ ครั้งที่ 6 จัดขึ้นผ่านระบบการประชุมทางไกล "
     "โดยครั้งนี้ H.E. Mrs. Josephine Teo รัฐมนตรีว่าการกระทรวงการสื่อสารและสารสนเทศของสิงคโปร์ "
     "ทำหน้าที่เป็นประธานการประชุม", "Josephine Teo",
     "ใครเป็นประธานการประชุมรัฐมนตรีอาเซียนด้านไซเบอร์ ครั้งที่ 6",
     "Who chaired the 6th ASEAN ministerial conference on cybersecurity?"),
    ("ข้าว", "กระทรวงพาณิชย์รายงานว่าราคาข้าวเปลือกหอมมะลิเพิ่มขึ้นเป็นตันละ 12,000 บาท "
     "หลังจากการส่งออกไปยังจีนขยายตัว", "12,000 บาท",
     "ราคาข้าวเปลือกหอมมะลิเป็นเท่าไร", "What is the price of jasmine paddy rice?"),
    ("วัคซีน", "รัฐบาลญี่ปุ่นบริจาควัคซีนแอสตร้าเซนเนก้าเพิ่มเติมให้ประเทศไทย "
     "นายกรัฐมนตรีกล่าวขอบคุณในนามของประชาชนไทย", "แอสตร้าเซนเนก้า",
     "ญี่ปุ่นบริจาควัคซีนอะไรให้ไทย", "Which vaccine did Japan donate to Thailand?"),
]  # fmt: skip


def squad(lang: str) -> dict:
    data = []
    for i, (title, context, answer, q_th, q_en) in enumerate(PARAGRAPHS):
        qa = {"id": f"q{i}", "question": q_th if lang == "th" else q_en,
              "answers": [{"text": answer, "answer_start": context.find(answer)}]}  # fmt: skip
        data.append({"title": title, "paragraphs": [{"context": context, "qas": [qa]}]})
    return {"version": "1.1", "data": data}


@pytest.fixture
def env(tmp_path, model_cache):
    return {"PRAKAT_DATA_DIR": str(tmp_path / "data"), "PRAKAT_CACHE_DIR": str(model_cache)}


def test_eval_squad_cross_lingual_json(tmp_path, env):
    th, en = tmp_path / "th.json", tmp_path / "en.json"
    th.write_text(json.dumps(squad("th"), ensure_ascii=False), encoding="utf-8")
    en.write_text(json.dumps(squad("en")), encoding="utf-8")
    for questions in (th, en):
        dump = tmp_path / f"answers-{questions.stem}.jsonl"
        result = CliRunner().invoke(
            cli, ["eval", "squad", "--contexts", str(th), "--questions", str(questions), "--json",
                  "--answers", str(dump)],
            env=env, catch_exceptions=False,
        )  # fmt: skip
        metrics = json.loads(result.stdout)  # stderr: a first run's int8 progress bars
        assert set(metrics) == {"n", "recall@1", "recall@5", "recall@10", "mrr@10", "answer_hit"}
        assert metrics["n"] == 3
        assert metrics["recall@1"] == 1.0 and metrics["mrr@10"] == 1.0
        assert metrics["answer_hit"] == 1.0
        outcomes = [json.loads(line) for line in dump.read_text(encoding="utf-8").splitlines()]
        assert [o["qid"] for o in outcomes] == ["q0", "q1", "q2"]
        for o in outcomes:
            assert o["rank"] == 1 and o["ranked"][0] == o["gold"] == o["answer_doc"]
            assert o["answer_hit"] and o["answer"]
    assert not (tmp_path / "data" / "index.faiss").exists()  # the user's index is untouched


def test_eval_iapp_with_distractors(tmp_path, env, amcc_dir):
    path = tmp_path / "valid.jsonl"
    rows = [
        {"question_id": i, "article_id": i, "title": title, "context": context,
         "question": q_th, "answers": {"text": [answer], "answer_start": [context.find(answer)]}}
        for i, (title, context, answer, q_th, _) in enumerate(PARAGRAPHS)
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    distractors = tmp_path / "haystack"
    shutil.copytree(amcc_dir, distractors)
    result = CliRunner().invoke(
        cli, ["eval", "iapp", "--file", str(path), "--distractors", str(distractors), "--json"],
        env=env, catch_exceptions=False,
    )  # fmt: skip
    metrics = json.loads(result.output)
    assert metrics["n"] == 3 and metrics["recall@5"] == 1.0


def test_eval_bad_file_is_one_sentence(tmp_path, env):
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": 5}')
    result = CliRunner().invoke(cli, ["eval", "squad", "--contexts", str(bad)], env=env)
    assert result.exit_code == 1
    assert result.output == f"Error: {bad} is not in SQuAD v1.1 format\n"


def test_eval_thaigov_asks_in_a_conversation_on_the_day_asked(tmp_path, model_cache, warm_cache,
                                                             amcc_dir):  # fmt: skip
    """Per kind and language; a follow-up is asked after its context, an unanswerable
    question counts as refused."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(warm_cache, data / "embeddings.sqlite")
    env = {"PRAKAT_DATA_DIR": str(data), "PRAKAT_CACHE_DIR": str(model_cache)}
    rows = [
        {"id": "a", "q": "who chaired the 6th AMCC?", "lang": "en", "kind": "ordinal",
         "gold": [46681], "answers": ["Josephine Teo"], "asked_on": "2022-12-01"},
        {"id": "b", "q": "and the 7th?", "lang": "en", "kind": "followup", "gold": [60666],
         "answers": [], "asked_on": "2022-12-01", "context": ["who chaired the 6th AMCC?"]},
        {"id": "c", "q": "ใครเป็นประธานการประชุม AMCC ครั้งที่ 9", "lang": "th",
         "kind": "unanswerable", "gold": [], "answers": [], "asked_on": "2022-12-01"},
        {"id": "d", "q": "who chaired the 7th AMCC?", "lang": "en", "kind": "ordinal",
         "gold": [60666], "answers": [], "asked_on": "2021-12-01"},  # before it was held
    ]  # fmt: skip
    path = tmp_path / "dev.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    answers = tmp_path / "answers.jsonl"
    result = CliRunner().invoke(
        cli, ["eval", "thaigov", "--questions", str(path), "--haystack", str(amcc_dir),
              "--json", "--answers", str(answers)], env=env, catch_exceptions=False,
    )  # fmt: skip
    table = json.loads(result.output)
    assert list(table) == ["ordinal", "followup", "unanswerable", "lang:en", "lang:th", "all"]
    assert table["ordinal"]["n"] == 2 and table["ordinal"]["release@1"] == 0.5
    assert table["ordinal"]["answer_hit"] == 0.5
    assert table["followup"]["release@1"] == 1.0
    assert table["unanswerable"] == {"n": 1, "refused": 1.0}
    outcomes = {o["id"]: o for o in map(json.loads, answers.read_text().splitlines())}
    assert outcomes["b"]["asked"] == "who chaired the 7th AMCC?"
    assert "60666" not in outcomes["d"]["releases"]  # published after the day asked
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    result = CliRunner().invoke(
        cli, ["eval", "thaigov", "--questions", str(bad), "--haystack", str(amcc_dir)], env=env
    )
    assert result.exit_code == 1
    assert result.output == f"Error: {bad} is not in the thaigov-qa jsonl format\n"


def test_eval_generated_measures_the_generated_answer_beside_the_extracted(tmp_path, env,
                                                                           httpserver):  # fmt: skip
    import re

    from tests.llm_server import FakeLLM

    llm = FakeLLM(httpserver)  # a "model" that repeats the first passage, citing it
    llm.reply = lambda request: (
        re.search(
            r'<passage n="1"[^>]*>\n(.*?)\n</passage>', request["messages"][1]["content"], re.S
        ).group(1)
        + " [1]"
    )
    config = tmp_path / "llm.yaml"
    config.write_text(f"llm:\n  base_url: {llm.base_url}\n  model: copier\n", encoding="utf-8")
    contexts = tmp_path / "th.json"
    contexts.write_text(json.dumps(squad("th"), ensure_ascii=False), encoding="utf-8")
    args = ["eval", "squad", "--contexts", str(contexts), "--json", "--generated"]
    refused = CliRunner().invoke(cli, args, env=env)
    assert refused.exit_code != 0 and "--generated needs llm.base_url" in refused.output
    result = CliRunner().invoke(cli, args, env={**env, "PRAKAT_CONFIG": str(config)},
                                catch_exceptions=False)  # fmt: skip
    metrics = json.loads(result.output.splitlines()[-1])
    assert metrics["recall@1"] == 1.0 and len(llm.requests) == 3
    assert metrics["generated_shown"] == 1.0 and metrics["generated_hit"] == 1.0
