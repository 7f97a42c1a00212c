"""The bot's /add ADDRESS, /fetch and scheduled fetch, against the local Bot API server
and a local copy of the site (127.0.0.1) serving real releases at their news ids."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.telegram_app import build_application, scheduled_fetch
from corpus.fetch import FetchConfig
from tests.conftest import sample_file
from tests.pages import thaigov_page
from tests.test_bot import ADMIN, TOKEN, USER, answered, replies, run_bot
from tests.test_bot import runtime as runtime  # noqa: F401 (the fixture)

PATH = "/news/contents/details/{id}"
SERVED = ("46520", "46681")


@pytest.fixture
def site(httpserver, runtime):  # noqa: F811
    httpserver.no_handler_status_code = 404
    for doc_id in SERVED:
        page = thaigov_page(sample_file(doc_id)).encode()
        httpserver.expect_request(PATH.format(id=doc_id)).respond_with_data(
            page, content_type="text/html; charset=utf-8"
        )
        runtime.indexer.remove_document(doc_id)  # the bot adds them back
    fetch = FetchConfig(allowed_hosts=("localhost",), release_url=httpserver.url_for(PATH),
                        pages_per_second=0, retries=0, timeout_s=5, allow_private=True)  # fmt: skip
    runtime.settings = replace(runtime.settings, fetch=fetch)
    return httpserver


def test_an_admin_adds_a_release_by_its_address_and_a_bad_one_changes_nothing(runtime, site):  # noqa: F811
    async def scenario(server):
        server.send_text(ADMIN, f"/add {site.url_for(PATH.format(id=46681))}")
        await server.wait_for(answered(1, ADMIN))
        server.send_text(ADMIN, "/add https://evil.example/news/contents/details/46681")
        await server.wait_for(answered(2, ADMIN))
        server.send_text(USER, f"/add {site.url_for(PATH.format(id=46520))}")
        await server.wait_for(answered(1, USER))
        server.send_text(USER, "who chaired the 6th AMCC?")
        await server.wait_for(answered(2, USER))
        return server

    server = run_bot(runtime, scenario)
    added, bad = replies(server, ADMIN)
    assert added.startswith("Added 46681:")
    assert bad.startswith("Could not add this address: evil.example is not an allowed host")
    refused, answer = replies(server, USER)
    assert refused.startswith("Sorry, only administrators")
    assert "Josephine Teo" in answer
    assert not runtime.store.has_document("46520")


def test_fetch_adds_the_new_releases_and_questions_find_them(runtime, site):  # noqa: F811
    runtime.store.set_meta("fetch.last_id", "46519")

    async def scenario(server):
        server.send_text(USER, "/fetch")
        await server.wait_for(answered(1, USER))
        server.send_text(ADMIN, "/fetch")
        await server.wait_for(answered(2, ADMIN), timeout=60)
        server.send_text(USER, "who chaired the 6th AMCC?")
        await server.wait_for(answered(2, USER))
        return server

    server = run_bot(runtime, scenario)
    started, done = replies(server, ADMIN)
    assert started.startswith("Fetching new releases")
    assert done.startswith("Fetched 362 news ids: 2 added, 0 updated, 0 unchanged")
    assert replies(server, USER)[0].startswith("Sorry, only administrators")
    assert "Josephine Teo" in replies(server, USER)[1]
    assert runtime.store.get_meta("fetch.last_id") == "46681"


def test_the_scheduled_fetch_runs_on_the_job_queue(runtime, site):  # noqa: F811
    settings = replace(runtime.settings, fetch=replace(runtime.settings.fetch, every_minutes=30))
    settings = replace(settings, telegram=replace(settings.telegram, token=TOKEN))
    app = build_application(settings, runtime)
    (job,) = [j for j in app.job_queue.jobs() if j.name != "announce"]
    assert job.name == "fetch" and job.callback is scheduled_fetch
    jobs = build_application(replace(settings, fetch=runtime.settings.fetch), runtime).job_queue
    assert [j.name for j in jobs.jobs()] == ["announce"]
    runtime.store.set_meta("fetch.last_id", "46519")

    async def scenario(server, app):
        app.job_queue.run_once(scheduled_fetch, when=0)
        await server.wait_for(lambda calls: runtime.store.has_document("46681"), timeout=60)
        server.send_text(USER, "who chaired the 6th AMCC?")
        await server.wait_for(answered(1, USER))
        return server

    server = run_bot(runtime, scenario, with_app=True)
    assert "Josephine Teo" in replies(server, USER)[0]
