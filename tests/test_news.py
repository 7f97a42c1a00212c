"""News questions on small real releases: a date, "latest", an ordinal look-alike, a
follow-up (console chat and bot), one no release answers, and impossible dates.

The releases: the AMCC series (the 5th, 6th and 7th meetings) and three daily reports
of the Department of Rural Roads on flooded roads (4, 5 and 7 October 2021: 28, 28
and 22 roads impassable)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil

import pytest
from click.testing import CliRunner

from bot.cli import cli
from corpus.loader import load_path
from retrieval.question.query import parse_question
from tests.conftest import AMCC_IDS, _runtime, sample_file

REPORTS = ("46520", "46570", "46664")  # 4, 5 and 7 October 2021


@pytest.fixture(scope="module")
def news_dir(tmp_path_factory, model_cache, embedder, warm_cache):
    """A data dir holding the AMCC series and the three reports (embedded once)."""
    data = tmp_path_factory.mktemp("news")
    shutil.copy(warm_cache, data / "embeddings.sqlite")
    rt = _runtime(data, model_cache, embedder)
    rt.indexer.add_documents([load_path(sample_file(i)) for i in (*AMCC_IDS, *REPORTS)])
    rt.close()
    return data


@pytest.fixture
def news(news_dir, tmp_path, model_cache, embedder):
    data = tmp_path / "data"
    shutil.copytree(news_dir, data)
    rt = _runtime(data, model_cache, embedder)
    yield rt
    rt.close()


def ask(rt, question, today):
    return rt.searcher.search(parse_question(question, dt.date.fromisoformat(today)), 5)


def doc(answer, i=0):
    return answer.hits[i].document.doc_id


@pytest.mark.parametrize(
    "question, gold",
    [
        ("วันที่ 4 ต.ค. 64 ถนนทางหลวงชนบทสัญจรผ่านไม่ได้กี่สายทาง", "46520"),
        ("ทางหลวงชนบทสัญจรผ่านไม่ได้กี่สายทาง เมื่อ 7 ตุลาคม 2564", "46664"),
        ("How many rural roads could not be used on 5 October 2021?", "46570"),
        ("เมื่อวานทางหลวงชนบทสัญจรผ่านไม่ได้กี่สายทาง", "46570"),  # asked on the 6th
    ],
)
def test_a_date_in_the_question_picks_that_days_report(news, question, gold):
    answer = ask(news, question, "2021-10-06" if "เมื่อวาน" in question else "2021-10-10")
    assert doc(answer) == gold
    assert answer.sentence.doc_id == gold


def test_latest_is_the_newest_report_published_by_the_day_asked(news):
    question = "ล่าสุดถนนทางหลวงชนบทยังสัญจรผ่านไม่ได้กี่สายทาง"
    assert doc(ask(news, question, "2021-10-10")) == "46664"
    on_the_5th = ask(news, question, "2021-10-05")
    assert doc(on_the_5th) == "46570"
    assert "46664" not in {h.document.doc_id for h in on_the_5th.hits}  # not yet out


def test_results_come_from_distinct_releases(news):
    answer = ask(news, "กรมทางหลวงชนบท รายงานสถานการณ์สายทางที่ได้รับผลกระทบจากอุทกภัย", "2021-10-10")
    ids = [h.document.doc_id for h in answer.hits]
    assert len(ids) == len(set(ids)) >= 3


def test_an_ordinal_is_not_answered_from_a_look_alike(news):
    answer = ask(news, "who chaired the 7th ASEAN Ministerial Conference on Cybersecurity?",
                 "2022-12-01")  # fmt: skip
    assert doc(answer) == "60666"


def test_an_occurrence_the_corpus_does_not_hold_is_not_found(news):
    answer = ask(news, "ใครเป็นประธานการประชุม AMCC ครั้งที่ 9", "2022-12-01")
    assert answer.sentence is None and not answer.found


def chat(env, lines, *args):
    result = CliRunner().invoke(cli, ["chat", "--json", *args], env=env, input=lines,
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


@pytest.fixture
def env(news, model_cache):
    return {"PRAKAT_DATA_DIR": str(news.settings.data_dir), "PRAKAT_CACHE_DIR": str(model_cache),
            "PRAKAT_CONFIG": "", "HF_HUB_OFFLINE": "1"}  # fmt: skip


def test_a_follow_up_in_the_console_chat_and_an_empty_line_starts_over(env):
    first, follow, alone = chat(
        env, "who chaired the 6th AMCC?\nand the 7th?\n\nand the 7th?\n", "--today", "2022-12-01"
    )
    assert first["asked"] == "who chaired the 6th AMCC?"
    assert first["passages"][0]["doc_id"] == "46681"
    assert follow["asked"] == "who chaired the 7th AMCC?"
    assert follow["passages"][0]["doc_id"] == "60666"
    assert alone["asked"] == "and the 7th?"  # a new conversation: nothing to complete from


def test_impossible_dates_get_one_sentence(env):
    result = CliRunner().invoke(cli, ["ask", "ครม. วันที่ 31 กุมภาพันธ์ 2565 อนุมัติอะไร"], env=env)
    assert result.exit_code == 1
    assert result.output == "Error: There is no such date as '31 กุมภาพันธ์ 2565'.\n"
    result = CliRunner().invoke(cli, ["ask", "hello", "--today", "2021-02-31"], env=env)
    assert result.exit_code == 2
    assert "'2021-02-31' is not a date of the form YYYY-MM-DD." in result.output
    assert "Traceback" not in result.output
    (line,) = chat(env, "เมื่อวันที่ 30 ก.พ. 65 มีอะไร\n")
    assert line["error"] == "There is no such date as '30 ก.พ. 65'."


def test_a_follow_up_in_the_bot_says_how_it_was_read_and_new_starts_over(news):
    from tests.test_bot import USER, answered, replies, run_bot

    async def scenario(server):
        server.send_text(USER, "who chaired the 6th AMCC?")
        await server.wait_for(answered(1, USER))
        server.send_text(USER, "and the 7th?")
        await server.wait_for(answered(2, USER))
        server.send_text(USER, "/new")
        await server.wait_for(answered(3, USER))
        server.send_text(USER, "and the 7th?")
        await server.wait_for(answered(4, USER))
        return server

    texts = replies(run_bot(news, scenario), USER)
    assert "Josephine Teo" in re.search(r"<b>(.*?)</b>", texts[0], re.S).group(1)
    assert "Read as: who chaired the 7th AMCC?" in texts[1]
    assert "/60666" in texts[1]
    assert texts[2] == "A new conversation: the next question stands alone."
    assert "Read as" not in texts[3]
