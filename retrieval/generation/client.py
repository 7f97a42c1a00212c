"""A generated answer through any OpenAI-compatible endpoint (a provider's API, or a
llama.cpp, vLLM or Ollama server), when ``llm.base_url`` is set.

Failure is normal: a timeout, a refused connection, a 4xx or 5xx, a malformed reply or
one that fails the checks of ``reply.check_reply`` gives ``None`` within
``llm.timeout_s`` and one line in the log, and the caller shows the extracted answer.
The client's own retries are off: a user waits for one try, never for a second.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Late
from dataclasses import dataclass, field

from retrieval.generation.reply import check_reply, messages
from retrieval.ranking.results import Hit

log = logging.getLogger("prakat.llm")


@dataclass(frozen=True)
class LLMConfig:
    base_url: str = ""  # empty: no generated answers
    model: str = ""
    api_key_env: str = "PRAKAT_LLM_API_KEY"  # the variable holding the key, never the key
    timeout_s: float = 20.0
    max_passages: int = 5
    temperature: float = 0.0
    max_tokens: int = 400

    @property
    def enabled(self) -> bool:
        return bool(self.base_url.strip())


@dataclass(frozen=True)
class Generated:
    text: str  # "" where the model said the passages do not hold the answer
    citations: list[int] = field(default_factory=list)  # passage numbers, 1-based
    model: str = ""
    not_found: bool = False


class Generator:
    """Generated answers from one endpoint; safe to call from several threads."""

    def __init__(self, config: LLMConfig) -> None:
        from openai import OpenAI

        self.config = config
        self._key = os.environ.get(config.api_key_env, "")
        # a local server takes any key; the client wants one
        self.client = OpenAI(base_url=config.base_url, api_key=self._key or "none",
                             timeout=config.timeout_s, max_retries=0)  # fmt: skip
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="prakat-llm")

    def generate(self, question: str, hits: Sequence[Hit]) -> Generated | None:
        """The answer to ``question`` from ``hits`` (the first ``llm.max_passages``, the
        numbers its citations refer to), or None, within ``llm.timeout_s``."""
        hits = list(hits[: self.config.max_passages])
        if not hits:
            return None
        call = self._pool.submit(self._ask, question, hits)
        try:
            reply = call.result(timeout=self.config.timeout_s)
        except Late:
            self._fall_back(f"no reply within {self.config.timeout_s:g} s")
            return None
        except Exception as exc:  # the endpoint is not ours: any failure falls back
            self._fall_back(f"{type(exc).__name__}: {exc}")
            return None
        checked = check_reply(reply, hits)
        if checked.problem:
            self._fall_back(checked.problem)
            return None
        return Generated(checked.text, checked.citations, self.config.model, checked.not_found)

    def _ask(self, question: str, hits: list[Hit]) -> str | None:
        c = self.config
        response = self.client.chat.completions.create(
            model=c.model, messages=messages(question, hits), temperature=c.temperature,
            max_tokens=c.max_tokens,
        )  # fmt: skip
        return response.choices[0].message.content

    def _fall_back(self, reason: str) -> None:
        reason = " ".join(reason.split())[:300]
        if self._key:
            reason = reason.replace(self._key, "***")
        log.warning("generated answer not shown (%s); the extracted answer is", reason)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
