"""`prakat corpus add URL` and `prakat corpus fetch` against a local copy of the site
(127.0.0.1) serving real releases at their own news ids; a fetch killed with SIGKILL
and run again ends with every release once."""

from __future__ import annotations

import json
import shutil

import pytest

from corpus.store import Store
from tests.conftest import sample_file
from tests.pages import empty_release_page, thaigov_page
from tests.test_crash import kill_at, run

PATH = "/news/contents/details/{id}"
SERVED = ("46520", "46681")  # 160 ids apart, fewer than misses_to_stop: one walk finds both


@pytest.fixture
def site(httpserver):
    httpserver.no_handler_status_code = 404
    for doc_id in SERVED:
        page = thaigov_page(sample_file(doc_id)).encode()
        httpserver.expect_request(PATH.format(id=doc_id)).respond_with_data(
            page, content_type="text/html; charset=utf-8"
        )
    httpserver.expect_request(PATH.format(id=46600)).respond_with_data(empty_release_page())
    return httpserver


@pytest.fixture
def env(tmp_path, model_cache, warm_cache, site):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(warm_cache, data / "embeddings.sqlite")  # the releases are embedded already
    config = tmp_path / "config.yaml"
    config.write_text(
        "fetch:\n"
        "  allowed_hosts: [localhost]\n"
        f"  release_url: {site.url_for(PATH)}\n"
        "  allow_private: true\n  pages_per_second: 0\n  retries: 0\n  timeout_s: 5\n"
        "  batch: 1\n",
        encoding="utf-8",
    )
    return {"PRAKAT_DATA_DIR": str(data), "PRAKAT_CACHE_DIR": str(model_cache),
            "PRAKAT_CONFIG": str(config), "HF_HUB_OFFLINE": "1"}  # fmt: skip


def releases(env) -> list[str]:
    store = Store(f"{env['PRAKAT_DATA_DIR']}/corpus.sqlite")
    try:
        return store.doc_ids()
    finally:
        store.close()


def test_a_release_is_added_by_its_address(env, site):
    result = run(env, "corpus", "add", site.url_for(PATH.format(id=46681)))
    assert result.exit_code == 0, result.output
    assert "added" in result.output and "46681" in result.output
    store = Store(f"{env['PRAKAT_DATA_DIR']}/corpus.sqlite")
    try:
        assert store.get_document("46681").section == "ด้านความมั่นคง"
    finally:
        store.close()
    asked = json.loads(run(env, "ask", "who chaired the 6th AMCC?", "--json").output)
    assert "Josephine Teo" in asked["answer"]["text"]


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("https://evil.example/news/contents/details/1", "evil.example is not an allowed host"),
        ("ftp://localhost/x", "not an http(s) address"),
        ("{site}/news/contents/details/46600", "holds no release"),
        ("{site}/news/contents/details/1", "holds no page (HTTP 404)"),
    ],
)
def test_a_bad_address_is_one_sentence_and_adds_nothing(env, site, address, message):
    result = run(env, "corpus", "add", address.format(site=site.url_for("").rstrip("/")))
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert releases(env) == []


def test_fetch_walks_the_new_ids_and_a_second_run_finds_nothing_new(env, site):
    dry = run(env, "corpus", "fetch", "--since", "46519", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.count("would add") == 2 and releases(env) == []
    result = run(env, "corpus", "fetch", "--since", "46519")
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output and "the newest 46681" in result.output
    assert releases(env) == ["46520", "46681"]
    tried = len(site.log)
    again = run(env, "corpus", "fetch")  # on from the newest recorded: 46682 upward
    assert "0 added" in again.output
    assert min(int(r.path.rsplit("/", 1)[1]) for r, _ in site.log[tried:]) == 46682


@pytest.mark.slow
@pytest.mark.parametrize("point", ["db-write", "after-commit"])
def test_a_fetch_killed_and_run_again_has_every_release_once(env, point):
    kill_at(point, env, "corpus", "fetch", "--since", "46519")
    result = run(env, "corpus", "fetch")  # no --since: on from what the first run kept
    assert result.exit_code == 0, result.output
    assert releases(env) == ["46520", "46681"]
    report = json.loads(run(env, "index", "check", "--json").output)
    assert report == {"ok": True, "problems": {}, "repaired": {}}


def test_a_dry_run_names_the_followers_a_release_would_be_told_to(env, amcc_dir, tmp_path):
    from bot.follows import Follows

    for doc_id in SERVED:  # the archive: the test releases but the two the site serves
        (amcc_dir / sample_file(doc_id).name).unlink()
    assert run(env, "corpus", "add", "--no-announce", str(amcc_dir)).exit_code == 0
    config = tmp_path / "config.yaml"  # six releases make a small scale
    config.write_text(config.read_text() + "following:\n  threshold: 1.5\n", encoding="utf-8")
    follows = Follows(f"{env['PRAKAT_DATA_DIR']}/follows.sqlite")
    follows.follow(7, 7, "น้ำท่วม ถนน", "th", cap=10)
    follows.follow(8, 8, "AstraZeneca vaccines", "en", cap=10)
    dry = run(env, "corpus", "fetch", "--since", "46519", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "46520 would be told to: user 7 (น้ำท่วม ถนน)" in dry.output
    assert "46681 would be told to: nobody" in dry.output
    assert follows.pending() == []  # a dry run queues nothing
    assert run(env, "corpus", "fetch", "--since", "46519").exit_code == 0
    assert follows.pending() == ["46520", "46681"]  # the running bot tells them
