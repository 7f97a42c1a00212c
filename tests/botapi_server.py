"""A small Telegram Bot API server for tests, on 127.0.0.1 and a random port.

It implements the methods prakat's bot uses, as Telegram's public Bot API docs
describe them (form or multipart parameters, JSON-encoded objects, ``{"ok": ...,
"result": ...}`` answers), keeps a queue of updates for long polling, serves
uploaded files, and records every request so tests can assert on what the bot sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {"id": 777000111, "is_bot": True, "first_name": "prakat", "username": "prakat_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False}  # fmt: skip


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


def _decode(value: Any) -> Any:
    if isinstance(value, str) and (value[:1] in "{[" or value in ("true", "false", "null")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class BotApiServer:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.updates: list[dict] = []
        self.pushed_at: dict[int, float] = {}  # update_id -> when the user sent it
        self.files: dict[str, bytes] = {}
        self.messages: dict[int, dict] = {}
        self.blocked: set[int] = set()  # chats whose user blocked the bot
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._new = asyncio.Event()
        self._changed = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- what a user does -----------------------------------------------------

    def _push(self, update: dict) -> dict:
        update["update_id"] = next(self._update_ids)
        self.pushed_at[update["update_id"]] = time.monotonic()
        self.updates.append(update)
        self._new.set()
        return update

    def user(self, user_id: int, lang: str = "en") -> dict:
        return {"id": user_id, "is_bot": False, "first_name": f"user{user_id}",
                "language_code": lang}  # fmt: skip

    def chat(self, chat_id: int, kind: str = "private") -> dict:
        chat = {"id": chat_id, "type": kind}
        if kind != "private":
            chat["title"] = "group"
        return chat

    def send_text(self, user_id: int, text: str, *, chat_id: int | None = None,
                  kind: str = "private", reply_to: dict | None = None,
                  entities: list[dict] | None = None) -> dict:  # fmt: skip
        message = {"message_id": next(self._ids), "date": int(time.time()),
                   "chat": self.chat(chat_id or user_id, kind), "from": self.user(user_id),
                   "text": text}  # fmt: skip
        if text.startswith("/"):
            command = text.split()[0]
            entities = [
                {"type": "bot_command", "offset": 0, "length": len(command)},
                *(entities or []),
            ]
        if entities:
            message["entities"] = entities
        if reply_to:
            message["reply_to_message"] = reply_to
        self.messages[message["message_id"]] = message
        self._push({"message": message})
        return message

    def send_document(self, user_id: int, data: bytes, file_name: str, caption: str = "") -> dict:
        file_id = f"file{next(self._ids)}"
        self.files[file_id] = data
        message = {"message_id": next(self._ids), "date": int(time.time()),
                   "chat": self.chat(user_id), "from": self.user(user_id),
                   "document": {"file_id": file_id, "file_unique_id": file_id,
                                "file_name": file_name, "file_size": len(data)}}  # fmt: skip
        if caption:
            message["caption"] = caption
        self._push({"message": message})
        return message

    def press(self, user_id: int, message: dict, data: str) -> dict:
        query = {"id": str(next(self._ids)), "from": self.user(user_id),
                 "chat_instance": "ci", "message": message, "data": data}  # fmt: skip
        return self._push({"callback_query": query})

    # -- what tests wait for --------------------------------------------------

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and
                (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))]  # fmt: skip

    async def wait_for(self, predicate, timeout: float = 30.0) -> list[Call]:
        """Wait until ``predicate(calls)`` is true; returns the calls."""
        deadline = time.monotonic() + timeout
        while not predicate(self.calls):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                methods = [c.method for c in self.calls]
                raise TimeoutError(f"bot did not do the expected; calls so far: {methods}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return self.calls

    # -- the API --------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if hasattr(value, "file"):
                    params[key] = {"filename": value.filename, "data": value.file.read()}
                else:
                    params[key] = _decode(value)
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)  # fmt: skip
        method = request.match_info["method"]
        params = await self._params(request)
        if method != "getUpdates":
            self.calls.append(Call(method, params))
            self._changed.set()
        handler = getattr(self, f"m_{method}", None)
        if handler is None:
            error = {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
            return web.json_response(error, status=404)
        result = await handler(params)
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])

    async def m_getMe(self, params):
        return BOT_USER

    async def m_deleteWebhook(self, params):
        return True

    async def m_setWebhook(self, params):
        return True

    async def m_setMyCommands(self, params):
        return True

    async def m_sendChatAction(self, params):
        return True

    async def m_answerCallbackQuery(self, params):
        return True

    async def m_getUpdates(self, params):
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while True:
            pending = [u for u in self.updates if u["update_id"] >= offset]
            if pending or time.monotonic() >= deadline:
                return pending[: int(params.get("limit") or 100)]
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                pass

    def _bot_message(self, params, **content) -> dict:
        chat_id = int(params["chat_id"])
        message = {"message_id": next(self._ids), "date": int(time.time()),
                   "chat": self.chat(chat_id, "private" if chat_id > 0 else "group"),
                   "from": BOT_USER, **content}  # fmt: skip
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[message["message_id"]] = message
        return message

    async def m_sendMessage(self, params):
        if int(params["chat_id"]) in self.blocked:
            blocked = {"ok": False, "error_code": 403,
                       "description": "Forbidden: bot was blocked by the user"}  # fmt: skip
            raise web.HTTPForbidden(text=json.dumps(blocked))
        if len(params.get("text", "")) > 4096:
            raise web.HTTPBadRequest(
                text='{"ok":false,"description":"Bad Request: message is too long"}'
            )
        return self._bot_message(params, text=params["text"])

    async def m_editMessageText(self, params):
        message = self.messages.get(int(params["message_id"]), {})
        message["text"] = params["text"]
        return message or True

    async def m_getFile(self, params):
        file_id = params["file_id"]
        data = self.files.get(file_id, b"")
        return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(data),
                "file_path": f"documents/{file_id}"}  # fmt: skip

    async def m_sendDocument(self, params):
        doc = params.get("document") or {}
        file_id = f"sent{next(self._ids)}"
        if isinstance(doc, dict) and "data" in doc:
            self.files[file_id] = doc["data"]
        return self._bot_message(params, document={"file_id": file_id, "file_unique_id": file_id,
                                                   "file_name": doc.get("filename")})  # fmt: skip
