"""The real python-telegram-bot stack against the local Bot API server."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace

import pytest

from bot.telegram_app import build_application, post_init
from corpus.loader import iter_release_paths, load_path
from tests.botapi_server import BotApiServer
from tests.conftest import TEST_IDS, sample_file

TOKEN = "123456:TEST-token-never-logged"
ADMIN, USER = 42, 7


@pytest.fixture
def runtime(runtime_factory, amcc_dir):
    rt = runtime_factory()
    rt.indexer.add_documents([load_path(p) for p in iter_release_paths([amcc_dir])])
    return rt


def run_bot(runtime, scenario, *, with_app=False, **telegram):
    """Start the bot against a fresh local Bot API server, play ``scenario(server)``
    (``scenario(server, app)`` ``with_app``), stop."""

    async def main():
        server = BotApiServer(TOKEN)
        await server.start()
        tg = replace(runtime.settings.telegram, token=TOKEN, base_url=server.base_url,
                     base_file_url=server.base_file_url, admins=(ADMIN,), **telegram)  # fmt: skip
        settings = replace(runtime.settings, telegram=tg)
        runtime.settings = settings
        app = build_application(settings, runtime)
        try:
            await app.initialize()
            await post_init(app)
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
            await app.start()
            return await (scenario(server, app) if with_app else scenario(server))
        finally:
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
            await server.stop()

    return asyncio.run(main())


async def spawn_prakat_bot(server, data_dir, model_cache, **env):
    """`prakat bot` as a process, as a user starts it: configured by the environment."""
    import os
    import sys

    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PRAKAT_DATA_DIR": str(data_dir),
           "PRAKAT_CACHE_DIR": str(model_cache), "PRAKAT_TELEGRAM_BASE_URL": server.base_url,
           "PRAKAT_TELEGRAM_BASE_FILE_URL": server.base_file_url, **env}  # fmt: skip
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "bot", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


def replies(server, chat_id):
    return [c.params["text"] for c in server.sent("sendMessage", chat_id)]


def answered(n, chat_id):
    return lambda calls: len([c for c in calls if c.method == "sendMessage"
                              and str(c.params.get("chat_id")) == str(chat_id)]) >= n  # fmt: skip


@pytest.mark.parametrize(
    "question", ["who chaired the 6th AMCC?", "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6"]
)
def test_question_is_answered_with_sentence_and_source(runtime, question):
    async def scenario(server):
        server.send_text(USER, question)
        await server.wait_for(answered(1, USER))
        return server

    server = run_bot(runtime, scenario)
    (call,) = server.sent("sendMessage", USER)
    text = call.params["text"]
    assert call.params["parse_mode"] == "HTML"
    bold = re.search(r"<b>(.*?)</b>", text, re.S).group(1)
    assert "Josephine Teo" in bold
    assert 'href="https://www.thaigov.go.th/news/contents/details/46681"' in text
    assert "2021-10-07" in text
    buttons = [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["callback_data"][:2] for b in buttons] == ["m:", "f:"]
    assert server.sent("sendChatAction", USER)
    commands = server.sent("setMyCommands")
    assert {c.params.get("language_code") for c in commands} == {None, "th"}


def test_buttons_more_results_and_full_release(runtime):
    async def scenario(server):
        server.send_text(USER, "who chaired the 6th AMCC?")
        await server.wait_for(answered(1, USER))
        first = server.sent("sendMessage", USER)[0]
        bot_message = server.messages[max(server.messages)]
        keyboard = first.params["reply_markup"]["inline_keyboard"]
        buttons = {b["callback_data"][0]: b["callback_data"] for row in keyboard for b in row}
        server.press(USER, bot_message, buttons["m"])
        await server.wait_for(answered(2, USER))
        server.press(USER, bot_message, buttons["f"])
        await server.wait_for(answered(3, USER))
        return server

    server = run_bot(runtime, scenario)
    first, more, full = replies(server, USER)[:3]
    assert "4. " in more and "1. " not in more  # the next passages, numbered on
    assert "H.E. Mrs. Josephine Teo" in full and "ที่มา" not in full
    assert len(server.sent("answerCallbackQuery")) == 2


def test_html_in_questions_is_escaped_and_long_questions_are_cut(runtime):
    async def scenario(server):
        server.send_text(USER, "<b>& AMCC</b> who chaired?")
        server.send_text(USER + 1, "AMCC " + "ก" * 5000)
        await server.wait_for(answered(1, USER))
        await server.wait_for(answered(1, USER + 1))
        return server

    server = run_bot(runtime, scenario)
    text = replies(server, USER)[0]
    assert "&lt;b&gt;&amp; AMCC&lt;/b&gt; who chaired?" in text
    long_reply = replies(server, USER + 1)
    assert all(len(t) <= 4096 for t in long_reply)


def test_group_answers_only_when_addressed(runtime):
    group = -100123

    async def scenario(server):
        server.send_text(USER, "who chaired the 6th AMCC?", chat_id=group, kind="group")
        server.send_text(USER, "/ask who chaired the 6th AMCC?", chat_id=group, kind="group")
        mention = "@prakat_test_bot who chaired the 5th AMCC?"
        server.send_text(USER, mention, chat_id=group, kind="group",
                         entities=[{"type": "mention", "offset": 0, "length": 16}])  # fmt: skip
        await server.wait_for(answered(2, group))
        await asyncio.sleep(1.0)  # the plain message must stay unanswered
        return server

    server = run_bot(runtime, scenario)
    assert len(replies(server, group)) == 2


def test_admin_adds_a_file_and_it_is_answerable(runtime, tmp_path):
    release = sample_file("46520").read_bytes()
    runtime.indexer.remove_document("46520")

    async def scenario(server):
        server.send_document(ADMIN, release, "../../etc/passwd.txt")
        await server.wait_for(answered(1, ADMIN))
        server.send_document(ADMIN, release, "again.txt")
        await server.wait_for(answered(2, ADMIN))
        server.send_document(ADMIN, b"\x89PNG\r\n\x1a\n\x00", "photo.txt")
        await server.wait_for(answered(3, ADMIN))
        return server

    server = run_bot(runtime, scenario)
    added, again, bad = replies(server, ADMIN)
    assert added.startswith("Added 46520:") and "2021-10-04" in added
    assert again.startswith("46520 is already in the corpus")
    assert bad == "Could not add this file: photo.txt is a PNG image, not a text release."
    doc = runtime.store.get_document("46520")
    assert doc.source_path == "passwd.txt"  # nothing of the user's path survives
    title = doc.title

    async def ask(server):
        server.send_text(USER, title)
        await server.wait_for(answered(1, USER))
        return server

    server = run_bot(runtime, ask)
    assert "details/46520" in replies(server, USER)[0]


def test_non_admin_is_refused_and_logged(runtime, caplog):
    async def scenario(server):
        server.send_document(USER, sample_file("46520").read_bytes(), "x.txt")
        server.send_text(USER + 5, "/remove 46681")
        bot_message = {"message_id": 999, "date": 0, "chat": server.chat(USER), "text": "x"}
        server.press(USER, bot_message, "rm:en:46681")  # forged callback data
        await server.wait_for(answered(1, USER))
        await server.wait_for(answered(1, USER + 5))
        await server.wait_for(lambda calls: server.sent("answerCallbackQuery"))
        return server

    with caplog.at_level(logging.WARNING, logger="prakat.bot"):
        server = run_bot(runtime, scenario)
    assert replies(server, USER)[0] == "Sorry, only administrators can change the announcements."
    assert replies(server, USER + 5)[0].startswith("Sorry, only administrators")
    alert = server.sent("answerCallbackQuery")[0].params
    assert alert["show_alert"] is True
    assert runtime.store.has_document("46681")
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"user {USER}" in logged and f"user {USER + 5}" in logged


def test_admin_remove_asks_to_confirm_and_flood_control(runtime):
    async def scenario(server):
        server.send_text(ADMIN, "/remove 35541")
        await server.wait_for(answered(1, ADMIN))
        assert runtime.store.has_document("35541")  # nothing happens before the confirmation
        confirm = server.sent("sendMessage", ADMIN)[0].params["reply_markup"]["inline_keyboard"]
        server.press(ADMIN, server.messages[max(server.messages)], confirm[0][0]["callback_data"])
        await server.wait_for(answered(2, ADMIN))
        for _ in range(3):
            server.send_text(USER, "AMCC")
        await server.wait_for(answered(3, USER))
        return server

    server = run_bot(runtime, scenario, questions_per_minute=2)
    ask, done = replies(server, ADMIN)
    assert ask.startswith("Remove 35541: ")
    assert done.startswith("Removed 35541 (")
    assert not runtime.store.has_document("35541")
    texts = replies(server, USER)
    assert sum("Please wait a moment" in t for t in texts) == 1


def test_stickers_edits_stats_and_latest(runtime):
    async def scenario(server):
        message = {"message_id": 5, "date": 0, "chat": server.chat(USER),
                   "from": server.user(USER),
                   "sticker": {"file_id": "s", "file_unique_id": "s", "width": 1,
                               "height": 1, "is_animated": False, "is_video": False,
                               "type": "regular"}}  # fmt: skip
        server._push({"message": message})
        edited = server.send_text(USER + 9, "AMCC")
        server._push({"edited_message": {**edited, "text": "who chaired the 6th AMCC?",
                                         "edit_date": 1}})  # fmt: skip
        server.send_text(USER, "/stats")
        server.send_text(USER, "/latest")
        server.send_text(USER, "/start")
        await server.wait_for(answered(4, USER))
        await server.wait_for(answered(2, USER + 9))
        return server

    server = run_bot(runtime, scenario)
    # the edited question is answered too (updates run concurrently: any order)
    assert any("Josephine Teo" in r for r in replies(server, USER + 9))
    texts = replies(server, USER)
    assert "Please send your question as text." in texts
    assert any(f"Documents: {len(TEST_IDS)}" in t for t in texts)
    assert any("60666" in t and "2022-10-20" in t for t in texts)
    assert any("ใครเป็นประธาน" in t and "who chaired" in t for t in texts)


def test_prakat_bot_command_end_to_end_never_logs_the_token(runtime, model_cache):
    """`prakat bot` as a user starts it, configured only through the environment."""
    import signal

    data_dir = str(runtime.settings.data_dir)
    runtime.close()

    async def main():
        server = BotApiServer(TOKEN)
        await server.start()
        proc = await spawn_prakat_bot(server, data_dir, model_cache, PRAKAT_ADMINS=str(ADMIN))
        try:
            await server.wait_for(lambda calls: server.sent("setMyCommands"), timeout=120)
            server.send_text(USER, "who chaired the 6th AMCC?")
            await server.wait_for(answered(1, USER), timeout=60)
        finally:
            proc.send_signal(signal.SIGINT)
            output, _ = await asyncio.wait_for(proc.communicate(), 60)
            await server.stop()
        return server, output.decode(errors="replace"), proc.returncode

    server, output, code = asyncio.run(main())
    assert "Josephine Teo" in replies(server, USER)[0]
    assert "ready: model" in output
    assert TOKEN not in output and TOKEN.split(":")[1] not in output
    assert code == 0


def test_model_loads_in_the_background_from_the_start(tmp_path, model_cache):
    """`prakat bot` starts loading the model at once (Services.preload); a model that
    cannot load is reported by open_searcher, as without the preload."""
    from bot.runtime import Runtime
    from bot.settings import load_settings
    from bot.telegram_app import Services
    from retrieval.encoder.embedder import ModelNotAvailable

    env = {"PRAKAT_DATA_DIR": str(tmp_path / "data"), "PRAKAT_CACHE_DIR": str(model_cache)}
    svc = Services(load_settings(None, env=env), Runtime(load_settings(None, env=env)))
    svc.preload()
    assert {t.name for t in svc._preloading} == {"load-model", "load-text-models"}
    for thread in svc._preloading:
        thread.join(120)
    assert svc.runtime.embedder._model is not None  # loaded by the background thread
    assert svc.runtime.embedder.backend == "openvino"

    config = tmp_path / "bad.yaml"
    config.write_text(f"embedding:\n  model: {tmp_path / 'no-such-model'}\n")
    settings = load_settings(str(config), env=env)
    svc = Services(settings, Runtime(settings))
    svc.preload()  # fails quietly in its thread
    with pytest.raises(ModelNotAvailable, match="cannot load embedding model"):
        svc.open_searcher()


def test_nothing_above_the_threshold_is_an_honest_not_found(runtime):
    strict = replace(runtime.settings.ranking, min_score=0.99)
    runtime.settings = replace(runtime.settings, ranking=strict)

    async def scenario(server):
        server.send_text(USER, "ราคาทองคำวันนี้เท่าไร")
        server.send_text(USER + 1, "what is the price of gold today?")
        await server.wait_for(answered(1, USER))
        await server.wait_for(answered(1, USER + 1))
        return server

    server = run_bot(runtime, scenario)
    assert replies(server, USER)[0].startswith("ไม่พบเรื่องนี้ในประกาศ")
    assert replies(server, USER + 1)[0].startswith("I could not find this in the announcements.")


def test_admin_add_by_reply_reindex_and_upload_limit(runtime):
    text = ("ประกาศทดสอบระบบ\nกรมอุตุนิยมวิทยาประกาศว่าพายุโซนร้อนคมปาซุจะเคลื่อนผ่านภาคเหนือ "
            "ในวันที่ 12 ตุลาคม 2564 ขอให้ประชาชนระวังน้ำป่าไหลหลาก")  # fmt: skip

    async def scenario(server):
        original = server.send_text(ADMIN, text)
        await server.wait_for(answered(1, ADMIN))  # in a private chat, text is a question too
        server.send_text(ADMIN, "/add", reply_to=original)
        await server.wait_for(answered(2, ADMIN))
        server.send_document(ADMIN, b"x" * 2000, "big.txt")
        await server.wait_for(answered(3, ADMIN))
        server.send_text(ADMIN, "/reindex")
        await server.wait_for(answered(5, ADMIN))
        server.send_text(USER, "พายุคมปาซุจะผ่านภาคไหน")
        await server.wait_for(answered(1, USER))
        return server

    server = run_bot(runtime, scenario, max_upload_bytes=1000)
    _, added, too_big, started, done = replies(server, ADMIN)
    assert added.startswith("Added h") and "ประกาศทดสอบระบบ" in added
    assert too_big == "This file is too large (limit 1 KB)."
    assert started.startswith("Rebuilding the index")
    assert done.startswith(f"Index rebuilt: {len(TEST_IDS) + 1} documents")
    assert "คมปาซุ" in replies(server, USER)[0]


def test_a_failing_answer_gets_an_apology_and_the_bot_goes_on(runtime, caplog):
    async def scenario(server):
        server.send_text(USER, "who chaired the 6th AMCC?")
        await server.wait_for(answered(1, USER))
        return server

    original = type(runtime.searcher).search
    calls = {"n": 0}

    def flaky(self, question, k=5, **kw):
        calls["n"] += 1
        if calls["n"] == 2:  # the warm-up is call 1; the first real question fails
            raise RuntimeError("simulated failure")
        return original(self, question, k, **kw)

    type(runtime.searcher).search = flaky
    try:
        with caplog.at_level(logging.ERROR, logger="prakat.bot"):
            server = run_bot(runtime, scenario)

            async def again(server):
                server.send_text(USER, "who chaired the 6th AMCC?")
                await server.wait_for(answered(1, USER))
                return server

            second = run_bot(runtime, again)
    finally:
        type(runtime.searcher).search = original
    assert replies(server, USER) == ["Sorry, something went wrong. Please try again."]
    assert any(r.exc_info for r in caplog.records)
    assert "Josephine Teo" in replies(second, USER)[0]


def test_full_release_that_is_long_comes_as_a_document(runtime):
    body = "\n".join(f"ย่อหน้าที่ {i} ว่าด้วยงบประมาณรายจ่ายประจำปีของกระทรวงต่าง ๆ" * 8 for i in range(60))
    raw = (f"รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-งบประมาณยาว\n\n\nวันพุธที่ 6 ตุลาคม 2564\n{body}\n"
           "ที่มา : https://www.thaigov.go.th/news/contents/details/99999")  # fmt: skip
    from corpus.release import parse_release

    runtime.indexer.add_documents([parse_release(raw)])

    async def scenario(server):
        bot_message = {"message_id": 1, "date": 0, "chat": server.chat(USER), "text": "x"}
        server.press(USER, bot_message, "f:th:99999")
        await server.wait_for(lambda calls: server.sent("sendDocument", USER))
        return server

    server = run_bot(runtime, scenario)
    (call,) = server.sent("sendDocument", USER)
    assert call.params["document"]["filename"] == "99999.txt"
    assert "งบประมาณรายจ่าย" in call.params["document"]["data"].decode()
