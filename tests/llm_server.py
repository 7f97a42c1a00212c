"""A local OpenAI-compatible endpoint for tests (pytest-httpserver on 127.0.0.1): it
answers /v1/chat/completions from a script the test sets, and can be made slow, broken
or hostile. Every request it got is kept."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from werkzeug import Request, Response


def completion(text: str | None, model: str = "test-model") -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}  # fmt: skip


class FakeLLM:
    """``reply(request json) -> str``: the assistant's text; ``status``, ``raw`` and
    ``delay_s`` make it fail, send a body that is not a completion, or be slow."""

    def __init__(self, httpserver) -> None:
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.reply: Callable[[dict], str] = lambda request: "The answer [1]."
        self.status = 200
        self.raw: str | None = None
        self.delay_s = 0.0
        self.echo_key = False  # an error that repeats the request's Authorization header
        httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(
            self._handle
        )
        self.base_url = httpserver.url_for("/v1")

    def _handle(self, request: Request) -> Response:
        body = json.loads(request.get_data(as_text=True))
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.status != 200:
            said = f": {request.headers.get('Authorization')}" if self.echo_key else ""
            error = {"error": {"message": f"failed with {self.status}{said}", "type": "error"}}
            return Response(json.dumps(error), status=self.status, content_type="application/json")
        if self.raw is not None:
            return Response(self.raw, content_type="application/json")
        text = json.dumps(completion(self.reply(body), body.get("model", "")))
        return Response(text, content_type="application/json")

    def passages(self, index: int = -1) -> str:
        """The user message of a request: the question and the fenced passages."""
        return self.requests[index]["messages"][1]["content"]
