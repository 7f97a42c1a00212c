"""Fetching release pages (corpus/fetch.py, corpus/crawl.py) from a local HTTP server on
127.0.0.1 that serves real releases in the site's structure, and the ways a site
fails: empty ids, a 500, a slow page, a redirect elsewhere, a huge page, a refusal."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from werkzeug import Response

from corpus.crawl import fetch_release, walk
from corpus.fetch import FetchConfig, Fetcher, FetchError, PageMissing, check_url
from corpus.loader import load_path
from tests.conftest import sample_file
from tests.pages import empty_release_page, thaigov_page

PATH = "/news/contents/details/{id}"


@pytest.fixture
def config(httpserver) -> FetchConfig:
    httpserver.no_handler_status_code = 404  # an id the site has no page for
    return FetchConfig(
        allowed_hosts=("localhost",),
        release_url=httpserver.url_for(PATH),
        pages_per_second=0,
        timeout_s=2.0,
        retries=1,
        misses_to_stop=3,
        allow_private=True,
    )


def serve_release(httpserver, news_id: int, doc_id: str) -> None:
    page = thaigov_page(sample_file(doc_id)).encode()
    httpserver.expect_request(PATH.format(id=news_id)).respond_with_data(
        page, content_type="text/html; charset=utf-8"
    )


def test_only_http_addresses_on_allowed_public_hosts_are_fetched():
    config = FetchConfig()
    with pytest.raises(FetchError, match="not an http"):
        check_url("file:///etc/passwd", config)
    with pytest.raises(FetchError, match="evil.example is not an allowed host"):
        check_url("https://evil.example/news/contents/details/1", config)
    local = replace(config, allowed_hosts=("localhost", "127.0.0.1"))
    with pytest.raises(FetchError, match="private or local address"):
        check_url("http://127.0.0.1:8080/news", local)
    with pytest.raises(FetchError, match="private or local address"):
        check_url("http://localhost/news", local)
    assert check_url("http://localhost/x", replace(local, allow_private=True))


def test_a_release_page_is_fetched_and_read_as_its_txt(httpserver, config):
    serve_release(httpserver, 7, "46681")
    with Fetcher(config) as fetcher:
        doc = fetch_release(fetcher, config.release_url.format(id=7))
    txt = load_path(sample_file("46681"))
    assert (doc.doc_id, doc.title, doc.date) == (txt.doc_id, txt.title, txt.date)
    assert doc.text == txt.text
    assert doc.section == "ด้านความมั่นคง"
    request, _ = httpserver.log[0]
    assert request.headers["User-Agent"].startswith("prakat/")


def test_the_ways_a_site_fails_each_get_one_sentence(httpserver, config):
    url = httpserver.url_for
    httpserver.expect_request("/missing").respond_with_data("nope", status=404)
    httpserver.expect_request("/broken").respond_with_data("oops", status=500)
    httpserver.expect_request("/refused").respond_with_data("go away", status=403)
    httpserver.expect_request("/away").respond_with_data(
        "", status=302, headers={"Location": "https://evil.example/steal"}
    )
    httpserver.expect_request("/huge").respond_with_data(b"<html>" + b"x" * 200_000)

    def slow(request):
        time.sleep(config.timeout_s + 1)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    small = replace(config, max_bytes=100_000)
    with Fetcher(small) as fetcher:
        with pytest.raises(PageMissing, match="HTTP 404"):
            fetcher.get(url("/missing"))
        with pytest.raises(FetchError, match=r"site's side \(HTTP 500\)"):
            fetcher.get(url("/broken"))
        assert sum(r.path == "/broken" for r, _ in httpserver.log) == 1 + config.retries
        with pytest.raises(FetchError, match=r"refused prakat's request .* \(HTTP 403\)"):
            fetcher.get(url("/refused"))
        with pytest.raises(FetchError, match="evil.example is not an allowed host"):
            fetcher.get(url("/away"))
        with pytest.raises(FetchError, match="over the 0.1 MB limit"):
            fetcher.get(url("/huge"))
        started = time.monotonic()
        with pytest.raises(FetchError, match="did not answer within 2 s"):
            fetcher.get(url("/slow"))
        assert time.monotonic() - started < 3 * (config.timeout_s + 1)


def test_a_redirect_within_the_allowed_host_is_followed(httpserver, config):
    serve_release(httpserver, 8, "60666")
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": PATH.format(id=8)}
    )
    with Fetcher(config) as fetcher:
        doc = fetch_release(fetcher, httpserver.url_for("/old"))
    assert doc.doc_id == "60666"


def test_the_walk_passes_empty_ids_and_stops_after_a_run_of_misses(httpserver, config):
    serve_release(httpserver, 1, "46681")
    httpserver.expect_request(PATH.format(id=3)).respond_with_data(empty_release_page())
    httpserver.expect_request(PATH.format(id=5)).respond_with_data(b"\x89PNG\r\n\x1a\n")
    serve_release(httpserver, 4, "60666")  # 2, 3 and 5 hold no release: the walk goes on
    with Fetcher(config) as fetcher:
        seen = [(i, d.doc_id if d else None) for i, d in walk(fetcher, 1)]
    assert seen == [(1, "46681"), (2, None), (3, None), (4, "60666"),
                    (5, None), (6, None), (7, None)]  # fmt: skip
    httpserver.expect_request(PATH.format(id=9)).respond_with_data("down", status=503)
    with Fetcher(config) as fetcher, pytest.raises(FetchError, match="HTTP 503"):
        list(walk(fetcher, 8))  # the site failing ends the walk: the next run resumes
    with Fetcher(config) as fetcher:
        assert [i for i, _ in walk(fetcher, 1, limit=1)] == [1]
