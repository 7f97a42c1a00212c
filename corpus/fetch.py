"""Fetching release pages over HTTP, politely and only from the hosts allowed.

One ``httpx`` client with a clear User-Agent; at most ``pages_per_second``; retries
with backoff on a connection error, a timeout or a 5xx; redirects followed by hand,
each hop checked like the first (only http(s), only ``allowed_hosts``, no private or
loopback address unless ``allow_private``); the body read up to ``max_bytes``.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from corpus.models import CorpusError

USER_AGENT = "prakat/0.1 (Thai government announcements Q&A bot; reads thaigov.go.th releases)"


class FetchError(CorpusError):
    """A page could not be fetched; the message is one sentence for a person."""


class PageMissing(FetchError):
    """The address holds no page (HTTP 404 or 410)."""


@dataclass(frozen=True)
class FetchConfig:
    allowed_hosts: tuple[str, ...] = ("www.thaigov.go.th", "thaigov.go.th")
    release_url: str = "https://www.thaigov.go.th/news/contents/details/{id}"
    pages_per_second: float = 1.0
    timeout_s: float = 20.0
    max_bytes: int = 5 * 1024 * 1024
    retries: int = 3
    misses_to_stop: int = 200  # the site's crawler stops after this many empty ids in a row
    batch: int = 20  # releases added to the index at a time (a run killed redoes one)
    every_minutes: int = 0  # the bot fetches new releases this often; 0: never by itself
    allow_private: bool = False  # private and loopback addresses (tests, an intranet mirror)
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class Page:
    url: str  # after redirects
    content: bytes


def check_url(url: str, config: FetchConfig) -> str:
    """``url`` if prakat may fetch it, else a ``FetchError`` saying why."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"{url} is not an http(s) address")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise FetchError(f"{url} has no host")
    if host not in {h.lower() for h in config.allowed_hosts}:
        allowed = ", ".join(config.allowed_hosts) or "none"
        raise FetchError(f"{host} is not an allowed host (fetch.allowed_hosts: {allowed})")
    if not config.allow_private:
        for address in _addresses(host, parts.port or (443 if parts.scheme == "https" else 80)):
            ip = ipaddress.ip_address(address)
            if not ip.is_global:
                raise FetchError(f"{host} resolves to a private or local address ({ip})")
    return url.strip()


def _addresses(host: str, port: int) -> set[str]:
    try:
        return {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"{host} cannot be found (DNS)") from None


class Fetcher:
    """Fetches pages one at a time, no faster than the configured rate; safe to share
    between threads (they take turns)."""

    def __init__(self, config: FetchConfig) -> None:
        self.config = config
        self._client = httpx.Client(
            headers={"User-Agent": config.user_agent, "Accept-Language": "th,en;q=0.8"},
            timeout=config.timeout_s,
            follow_redirects=False,
        )
        self._lock = threading.Lock()
        self._last = 0.0

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, url: str) -> Page:
        """The page at ``url``; ``PageMissing`` for a 404, ``FetchError`` otherwise."""
        with self._lock:
            for _ in range(6):  # at most 5 redirects
                url = check_url(url, self.config)
                response = self._request(url)
                if response.is_redirect:
                    target = response.headers.get("location", "")
                    response.close()
                    if not target:
                        raise FetchError(f"{url} redirects nowhere")
                    url = urljoin(url, target)
                    continue
                return self._read(url, response)
            raise FetchError(f"{url} redirects too many times")

    def _request(self, url: str) -> httpx.Response:
        """The response's headers (the body is read by ``_read``), after retries."""
        delay = 1.0
        for attempt in range(self.config.retries + 1):
            self._wait_turn()
            try:
                response = self._client.send(self._client.build_request("GET", url), stream=True)
            except httpx.TimeoutException:
                problem = f"{url} did not answer within {self.config.timeout_s:g} s"
            except httpx.HTTPError as exc:
                problem = f"{url} cannot be reached ({type(exc).__name__})"
            else:
                if response.status_code < 500:
                    return response
                response.close()
                problem = f"{url} failed on the site's side (HTTP {response.status_code})"
            if attempt < self.config.retries:
                time.sleep(delay)
                delay *= 2
        raise FetchError(problem)

    def _read(self, url: str, response: httpx.Response) -> Page:
        try:
            status = response.status_code
            if status in (404, 410):
                raise PageMissing(f"{url} holds no page (HTTP {status})")
            if status in (401, 403, 429):
                raise FetchError(f"the site refused prakat's request for {url} (HTTP {status})")
            if status != 200:
                raise FetchError(f"{url} answered HTTP {status}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.config.max_bytes:
                raise FetchError(f"{url} is over the {self.config.max_bytes / 1e6:g} MB limit")
            body = bytearray()
            # the client's timeout is per read: a page sent a byte at a time would pass
            deadline = time.monotonic() + self.config.timeout_s
            try:
                for piece in response.iter_bytes():
                    body += piece
                    if len(body) > self.config.max_bytes:
                        raise FetchError(
                            f"{url} is over the {self.config.max_bytes / 1e6:g} MB limit"
                        )
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("the whole page took too long")
            except httpx.TimeoutException:
                raise FetchError(
                    f"{url} did not finish within {self.config.timeout_s:g} s"
                ) from None
            except httpx.HTTPError as exc:
                raise FetchError(f"{url} broke off ({type(exc).__name__})") from None
            return Page(url, bytes(body))
        finally:
            response.close()

    def _wait_turn(self) -> None:
        if self.config.pages_per_second <= 0:
            return
        gap = 1.0 / self.config.pages_per_second - (time.monotonic() - self._last)
        if gap > 0:
            time.sleep(gap)
        self._last = time.monotonic()
