"""The bot under load and in webhook mode, on the real python-telegram-bot stack.

The flood test plays 50 users sending 1,000 questions at once through the local Bot
API server and reports (prints) the p95 reply time and memory growth; the webhook
test runs `prakat bot` as a process and posts updates to it with and without
Telegram's secret-token header.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from dataclasses import replace

import aiohttp
import numpy as np
import pytest

from bot.messages import t
from bot.telegram_app import build_application, post_init
from corpus.loader import iter_release_paths, load_path
from tests.botapi_server import BotApiServer
from tests.test_bot import ADMIN, TOKEN, USER, answered, replies, spawn_prakat_bot

pytestmark = pytest.mark.slow


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture
def data_dir(runtime_factory, amcc_dir):
    rt = runtime_factory()
    rt.indexer.add_documents([load_path(p) for p in iter_release_paths([amcc_dir])])
    return rt


def play(runtime, scenario):
    """Run the in-process bot against a fresh local Bot API server for ``scenario``."""

    async def main():
        server = BotApiServer(TOKEN)
        await server.start()
        tg = replace(runtime.settings.telegram, token=TOKEN, base_url=server.base_url,
                     base_file_url=server.base_file_url, admins=(ADMIN,))  # fmt: skip
        runtime.settings = replace(runtime.settings, telegram=tg)
        app = build_application(runtime.settings, runtime)
        try:
            await app.initialize()
            await post_init(app)
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
            await app.start()
            return await scenario(server, app)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            await server.stop()

    return asyncio.run(main())


def test_flood_of_50_users_and_1000_questions(data_dir):
    runtime = data_dir
    users = [1000 + i for i in range(50)]
    questions = ["who chaired the 6th AMCC?", "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6",
                 "AMCC ครั้งที่ 5 จัดที่ไหน", "<b>&amp;</b> 😀 cybersecurity?"]  # fmt: skip

    async def scenario(server, app):
        rss_before = rss_mb()
        for round_ in range(20):  # 20 questions from each of 50 users, all at once
            for i, user in enumerate(users):
                server.send_text(user, questions[(i + round_) % len(questions)])
        await server.wait_for(
            lambda calls: len([c for c in calls if c.method == "sendMessage"]) >= 1000,
            timeout=600,
        )
        return server, rss_before, rss_mb()

    server, rss_before, rss_after = play(runtime, scenario)
    sent = server.sent("sendMessage")
    assert len(sent) == 1000  # every question got exactly one reply
    busy = answers = 0
    for user in users:
        texts = replies(server, user)
        assert len(texts) == 20
        for text in texts:
            if text in (t("en", "busy"), t("th", "busy")):
                busy += 1
            else:
                assert "</b>" in text and "thaigov.go.th" in text  # an answer, valid markup
                answers += 1
    per_minute = runtime.settings.telegram.questions_per_minute
    assert answers == 50 * per_minute and busy == 1000 - 50 * per_minute
    starts = sorted(server.pushed_at.values())
    waits = [c.at - starts[0] for c in sent]
    p95 = float(np.percentile(waits, 95))
    print(f"\nflood: {answers} answered, {busy} rate-limited, p95 reply {p95:.2f}s, "
          f"RSS {rss_before:.0f} -> {rss_after:.0f} MB")  # fmt: skip
    assert rss_after - rss_before < 300  # bounded: no per-message leak


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webhook_rejects_requests_without_the_secret_token(data_dir, model_cache, tmp_path):
    runtime = data_dir
    data = str(runtime.settings.data_dir)
    runtime.close()
    port = free_port()
    config = tmp_path / "webhook.yaml"
    config.write_text(
        "telegram:\n"
        f"  webhook_url: http://127.0.0.1:{port}\n"
        f"  webhook_port: {port}\n"
        "  webhook_secret: s3cret-Token_1\n",
        encoding="utf-8",
    )
    update = {"update_id": 1, "message": {
        "message_id": 1, "date": 0, "chat": {"id": USER, "type": "private"},
        "from": {"id": USER, "is_bot": False, "first_name": "u"},
        "text": "who chaired the 6th AMCC?"}}  # fmt: skip

    async def main():
        server = BotApiServer(TOKEN)
        await server.start()
        proc = await spawn_prakat_bot(server, data, model_cache, PRAKAT_CONFIG=str(config))
        statuses = {}
        try:
            await server.wait_for(lambda calls: server.sent("setWebhook"), timeout=120)
            url = f"http://127.0.0.1:{port}/telegram"
            async with aiohttp.ClientSession() as http:
                for _ in range(100):  # setWebhook may come before the server listens
                    try:
                        async with http.get(url):
                            break
                    except aiohttp.ClientConnectorError:
                        await asyncio.sleep(0.2)
                for name, headers in [
                    ("none", {}),
                    ("wrong", {"X-Telegram-Bot-Api-Secret-Token": "guess"}),
                    ("right", {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}),
                ]:
                    async with http.post(url, json=update, headers=headers) as resp:
                        statuses[name] = resp.status
            await server.wait_for(answered(1, USER), timeout=60)
        finally:
            proc.send_signal(signal.SIGINT)
            output, _ = await asyncio.wait_for(proc.communicate(), 60)
            await server.stop()
        return server, statuses, output.decode(errors="replace")

    server, statuses, output = asyncio.run(main())
    assert statuses == {"none": 403, "wrong": 403, "right": 200}, output[-2000:]
    (webhook,) = server.sent("setWebhook")
    assert webhook.params["url"] == f"http://127.0.0.1:{port}/telegram"
    assert webhook.params["secret_token"] == "s3cret-Token_1"
    assert len(replies(server, USER)) == 1  # only the request with the secret was handled
    assert "Josephine Teo" in replies(server, USER)[0]
    assert TOKEN not in output


def test_questions_during_a_rebuild_by_another_process_never_fail(data_dir, runtime_factory):
    """A rebuild (here: re-chunking at another passage size, so new rows, new vectors
    and a new index) runs in another runtime while a user keeps asking; every question
    is answered, and the bot then serves the new index without a restart."""
    from bot.runtime import Runtime

    runtime = data_dir
    other = Runtime(replace(runtime.settings, chunking=replace(runtime.settings.chunking,
                                                               max_tokens=96)))  # fmt: skip
    other.__dict__["embedder"] = runtime.embedder
    old_vectors = len(runtime.load_index()[0])

    async def scenario(server, app):
        svc = app.bot_data["services"]
        rebuild = asyncio.create_task(asyncio.to_thread(other.indexer.rebuild))
        asked = 0
        while not rebuild.done() or asked < 5:  # one user per question: no flood gate
            asked += 1
            server.send_text(5000 + asked, "who chaired the 6th AMCC?")
            await server.wait_for(answered(1, 5000 + asked), timeout=60)
        await rebuild
        asked += 1
        server.send_text(5000 + asked, "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6")  # after the swap
        await server.wait_for(answered(1, 5000 + asked), timeout=60)
        return server, asked, len(svc.searcher.index)

    try:
        server, asked, served = play(runtime, scenario)
    finally:
        other.close()
    texts = [text for user in range(5001, 5001 + asked) for text in replies(server, user)]
    assert len(texts) == asked >= 6
    failed = [(i, text[-200:]) for i, text in enumerate(texts) if "Josephine Teo" not in text]
    assert not failed, (failed, len(texts))
    new_vectors = len(runtime.load_index()[0])
    assert new_vectors != old_vectors and served == new_vectors  # picked up, no restart


def test_a_damaged_index_never_stops_the_bot(data_dir):
    """A truncated index is rebuilt from cached vectors at start; with the cache gone
    too, the bot still starts and says the index is unavailable, instead of crashing
    (and being restarted, and crashing again)."""
    runtime = data_dir
    path = runtime.settings.index_path
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    async def ask(server, app):
        server.send_text(USER, "who chaired the 6th AMCC?")
        await server.wait_for(answered(1, USER), timeout=60)
        return server

    server = play(runtime, ask)
    assert "Josephine Teo" in replies(server, USER)[0]

    path.write_bytes(b"garbage")
    runtime.cache.db.execute("DELETE FROM embeddings")
    server = play(runtime, ask)
    assert replies(server, USER) == [t("en", "index_unavailable")]
