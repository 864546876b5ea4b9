"""A local fake of the Telegram Bot API on 127.0.0.1, for end-to-end tests of the real bot process.

It serves the methods the bot uses, holds long-polling getUpdates requests, and
rejects what Telegram rejects: unknown or unbalanced HTML tags, unescaped `<`/`&`,
empty text, and text over 4096 characters after entity parsing. Tests push updates
(messages, stickers, documents, button taps) and read what the bot sent.
Faults (HTTP status, retry_after, delays) can be injected per method.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 7_000_000_001
BOT_USERNAME = "visit_qa_test_bot"
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64

_ALLOWED_TAGS = {
    "b": set(),
    "strong": set(),
    "i": set(),
    "em": set(),
    "u": set(),
    "ins": set(),
    "s": set(),
    "strike": set(),
    "del": set(),
    "span": {"class"},
    "tg-spoiler": set(),
    "a": {"href"},
    "code": {"class"},
    "pre": set(),
    "blockquote": {"expandable"},
    "tg-emoji": {"emoji-id"},
}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:=(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>")
_ATTR = re.compile(r"([a-zA-Z-]+)(?:=(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


class TelegramError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def visible_text(markup: str) -> str:
    """Parse Telegram HTML the way Telegram does; raise TelegramError where it would."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(markup):
        ch = markup[i]
        if ch == "<":
            match = _TAG.match(markup, i)
            if not match:
                raise TelegramError(400, f"Bad Request: can't parse entities: unexpected '<' at {i}")
            closing, name, attrs = match.group(1), match.group(2).lower(), match.group(3)
            if name not in _ALLOWED_TAGS:
                raise TelegramError(
                    400, f'Bad Request: can\'t parse entities: Unsupported start tag "{name}"'
                )
            if closing:
                if not stack or stack[-1] != name:
                    raise TelegramError(
                        400, f'Bad Request: can\'t parse entities: Unmatched end tag "{name}"'
                    )
                stack.pop()
            else:
                for attr in _ATTR.finditer(attrs):
                    if attr.group(1).lower() not in _ALLOWED_TAGS[name]:
                        raise TelegramError(
                            400, f"Bad Request: can't parse entities: bad attribute {attr.group(1)}"
                        )
                if name in stack and name in ("a", "blockquote", "pre", "code"):
                    raise TelegramError(400, f"Bad Request: can't parse entities: nested {name}")
                stack.append(name)
            i = match.end()
        elif ch == "&":
            match = _ENTITY.match(markup, i)
            if not match:
                raise TelegramError(400, f"Bad Request: can't parse entities: unescaped '&' at {i}")
            out.append(_decode_entity(match.group(1)))
            i = match.end()
        elif ch == ">":
            raise TelegramError(400, f"Bad Request: can't parse entities: unescaped '>' at {i}")
        else:
            out.append(ch)
            i += 1
    if stack:
        raise TelegramError(400, f"Bad Request: can't parse entities: can't find end tag for \"{stack[-1]}\"")
    return "".join(out)


def _decode_entity(name: str) -> str:
    named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
    if name in named:
        return named[name]
    return chr(int(name[2:], 16) if name.startswith("#x") else int(name[1:]))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Fault:
    status: int
    description: str = "Internal Server Error"
    retry_after: int | None = None
    delay: float = 0.0
    times: int = 1


@dataclass
class Sent:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def buttons(self) -> list[dict]:
        markup = self.params.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]


class FakeTelegram:
    """Runs the fake API on its own thread and event loop; every public method is thread-safe."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified whenever the bot sends something
        self._replies: dict[int, list[Sent]] = {}
        self._updates: list[dict] = []
        self._new_update: asyncio.Event | None = None
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self.sent: list[Sent] = []
        self.rejected: list[tuple[str, dict, str]] = []
        self.calls: list[str] = []
        self.commands: list[dict] = []
        self.commands_by_language: dict[str | None, list[dict]] = {}
        self.commands_by_chat: dict[int, list[dict]] = {}  # BotCommandScopeChat lists
        self.descriptions: dict[str | None, str] = {}
        self.short_descriptions: dict[str | None, str] = {}
        self.inline_answers: dict[str, dict] = {}  # inline query id -> answerInlineQuery params
        self.callback_answers: dict[str, dict] = {}  # callback query id -> answerCallbackQuery params
        self.deleted: set[int] = set()  # message ids a user deleted
        self.webhook: dict[str, Any] = {}
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, list[Fault]] = {}
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, port: int = 0) -> FakeTelegram:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(port), self._loop).result(10)
        return self

    async def _start(self, port: int) -> None:
        self._new_update = self._new_update or asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Close the listening socket (connections are refused) but keep all state."""
        if self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None

    def resume(self) -> None:
        """Listen again on the same port after stop()."""
        asyncio.run_coroutine_threadsafe(self._start(self.port), self._loop).result(10)

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- what tests push -------------------------------------------------------------------
    def _push(self, update: dict) -> dict:
        with self._lock:
            update["update_id"] = next(self._ids)
            self._updates.append(update)
        self._loop.call_soon_threadsafe(self._new_update.set)
        return update

    @staticmethod
    def _user(user_id: int, language_code: str | None) -> dict:
        user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "username": f"user{user_id}"}
        if language_code:
            user["language_code"] = language_code
        return user

    def _message(
        self, user_id: int, chat_id: int | None, chat_type: str, lang: str | None = None, **content: Any
    ) -> dict:
        chat = {"id": chat_id or user_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "Test group"
        else:
            chat["first_name"] = f"User{user_id}"
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self._user(user_id, lang),
            **content,
        }

    def message_for(self, user_id: int, text: str) -> dict:
        """A private text message, not queued: for posting to a webhook."""
        return self._message(user_id, None, "private", text=text)

    def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        chat_type: str = "private",
        reply_to: dict | None = None,
        lang: str | None = None,
    ) -> dict:
        content: dict[str, Any] = {"text": text}
        entities = _entities(text)
        if entities:
            content["entities"] = entities
        if reply_to is not None:
            content["reply_to_message"] = reply_to
        message = self._message(user_id, chat_id, chat_type, lang, **content)
        self._push({"message": message})
        return message

    def send_photo(
        self, user_id: int, caption: str | None = None, chat_id: int | None = None, chat_type: str = "private"
    ) -> dict:
        photo = [{"file_id": "photo1", "file_unique_id": "p1", "width": 800, "height": 600}]
        content: dict[str, Any] = {"photo": photo}
        if caption is not None:
            content["caption"] = caption
            mentions = [e for e in _entities(caption) if e["type"] != "bot_command"]
            if mentions:
                content["caption_entities"] = mentions
        message = self._message(user_id, chat_id, chat_type, **content)
        self._push({"message": message})
        return message

    def send_inline_query(self, user_id: int, query: str, lang: str | None = None) -> str:
        """A user typing "@bot query" in some chat; returns the inline query id."""
        query_id = str(next(self._ids))
        self._push(
            {
                "inline_query": {
                    "id": query_id,
                    "from": self._user(user_id, lang),
                    "query": query,
                    "offset": "",
                }
            }
        )
        return query_id

    def wait_for_inline_answer(self, query_id: str, timeout: float = 60.0) -> dict:
        with self._changed:
            self._changed.wait_for(lambda: query_id in self.inline_answers, timeout)
            if query_id not in self.inline_answers:
                raise AssertionError(f"inline query {query_id} was never answered; rejected: {self.rejected}")
            return self.inline_answers[query_id]

    def wait_for_callback_answer(self, query_id: str, timeout: float = 60.0) -> dict:
        with self._changed:
            self._changed.wait_for(lambda: query_id in self.callback_answers, timeout)
            if query_id not in self.callback_answers:
                raise AssertionError(f"callback query {query_id} was never answered")
            return self.callback_answers[query_id]

    def delete(self, message: Sent) -> None:
        """The user deleted one of the bot's messages: edits of and replies to it now fail."""
        with self._lock:
            self.deleted.add(int(message.params["_result"]["message_id"]))

    def send_sticker(self, user_id: int) -> dict:
        sticker = {
            "file_id": "sticker1",
            "file_unique_id": "s1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        message = self._message(user_id, None, "private", sticker=sticker)
        self._push({"message": message})
        return message

    def send_document(
        self, user_id: int, file_name: str, data: bytes, caption: str | None = None, lang: str | None = None
    ) -> dict:
        file_id = f"doc{len(self.files) + 1}"
        self.files[file_id] = data
        document = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_name": file_name,
            "file_size": len(data),
            "mime_type": "text/plain",
        }
        content: dict[str, Any] = {"document": document}
        if caption is not None:
            content["caption"] = caption
        message = self._message(user_id, None, "private", lang, **content)
        self._push({"message": message})
        return message

    def forward_post(
        self,
        user_id: int,
        channel_title: str,
        channel_username: str | None,
        post_id: int,
        post_date: int,
        text: str | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
        channel_id: int = -1001234567890,
    ) -> dict:
        """A channel post forwarded to the bot (forward_origin of type channel); with `caption`
        it is a photo post, with `media_group_id` one part of an album."""
        chat = {"id": channel_id, "type": "channel", "title": channel_title}
        if channel_username:
            chat["username"] = channel_username
        content: dict[str, Any] = {
            "forward_origin": {"type": "channel", "chat": chat, "message_id": post_id, "date": post_date}
        }
        if text is not None:
            content["text"] = text
        else:
            content["photo"] = [
                {"file_id": f"photo{post_id}", "file_unique_id": "p", "width": 9, "height": 9}
            ]
            if caption is not None:
                content["caption"] = caption
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        message = self._message(user_id, None, "private", **content)
        self._push({"message": message})
        return message

    def tap(
        self, user_id: int, message: Sent | None, data: str, lang: str | None = None, inline: bool = False
    ) -> str:
        """Tap a button; returns the callback query id. `message=None, inline=True`: a button
        under a message sent in inline mode (no message in the update). A deleted message
        arrives as an InaccessibleMessage, as Telegram sends it."""
        query: dict[str, Any] = {
            "id": str(next(self._ids)),
            "from": self._user(user_id, lang),
            "chat_instance": "1",
            "data": data,
        }
        if inline:
            query["inline_message_id"] = "inline-1"
        if message is not None:
            bot_message = message.params.get("_result") or {}
            if int(bot_message.get("message_id", 0)) in self.deleted:
                bot_message = {
                    "chat": bot_message["chat"],
                    "message_id": bot_message["message_id"],
                    "date": 0,
                }
            query["message"] = bot_message
        self._push({"callback_query": query})
        return query["id"]

    def inject(self, method: str, fault: Fault) -> None:
        with self._lock:
            self.faults.setdefault(method, []).append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def count(self, method: str) -> int:
        """How often the bot called a method (failed calls included)."""
        with self._lock:
            return self.calls.count(method)

    # -- what tests read -------------------------------------------------------------------
    def documents(self, chat_id: int | None = None, since: int = 0) -> list[Sent]:
        """Files the bot sent (sendDocument): params["document"] is {"filename", "data"}."""
        with self._lock:
            return [
                s
                for s in self.sent[since:]
                if s.method == "sendDocument" and (chat_id is None or s.chat_id == chat_id)
            ]

    def messages(self, chat_id: int | None = None, since: int = 0) -> list[Sent]:
        with self._lock:
            return [
                s
                for s in self.sent[since:]
                if s.method == "sendMessage" and (chat_id is None or s.chat_id == chat_id)
            ]

    def replies_to(self, message_id: int) -> list[Sent]:
        """Messages the bot sent as replies to one message (the first message of each answer)."""
        with self._lock:
            return list(self._replies.get(message_id, ()))

    def wait_for_reply(self, message_id: int, timeout: float) -> list[Sent]:
        """Block until the bot replied to the message (or the timeout passed); its replies."""
        with self._changed:
            self._changed.wait_for(lambda: message_id in self._replies, timeout)
            return list(self._replies.get(message_id, ()))

    def mark(self) -> int:
        with self._lock:
            return len(self.sent)

    def wait_for(self, chat_id: int, count: int = 1, since: int = 0, timeout: float = 60.0) -> list[Sent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(chat_id, since)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        got = [m.text[:80] for m in self.messages(chat_id, since)]
        rejected = [r[2] for r in self.rejected]
        raise AssertionError(f"expected {count} messages to chat {chat_id}, got {got}; rejected: {rejected}")

    def wait_for_text(self, chat_id: int, needle: str, since: int = 0, timeout: float = 60.0) -> Sent:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for sent in self.messages(chat_id, since):
                if needle in sent.text:
                    return sent
            time.sleep(0.05)
        got = [m.text[:100] for m in self.messages(chat_id, since)]
        raise AssertionError(f"no message with {needle!r} to {chat_id}: {got}")

    def wait_for_call(self, method: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if method in self.calls:
                return
            time.sleep(0.05)
        raise AssertionError(f"{method} was never called; calls: {sorted(set(self.calls))}")

    # -- the API ---------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params = await _params(request)
        with self._lock:
            self.calls.append(method)
            queue = self.faults.get(method) or self.faults.get("*")
            fault = queue[0] if queue else None
            if fault:
                fault.times -= 1
                if fault.times <= 0:
                    queue.pop(0)
        if fault:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status:
                body: dict[str, Any] = {
                    "ok": False,
                    "error_code": fault.status,
                    "description": fault.description,
                }
                if fault.retry_after is not None:
                    body["parameters"] = {"retry_after": fault.retry_after}
                return web.json_response(body, status=fault.status)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        try:
            result = await handler(params)
        except TelegramError as error:
            with self._lock:
                self.rejected.append((method, params, error.description))
            return web.json_response(
                {"ok": False, "error_code": error.code, "description": error.description}, status=error.code
            )
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])

    async def _api_getMe(self, params: dict) -> dict:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Visit QA",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
        }

    async def _api_deleteWebhook(self, params: dict) -> bool:
        self.webhook = {}
        return True

    async def _api_setWebhook(self, params: dict) -> bool:
        self.webhook = params
        return True

    async def _api_setMyCommands(self, params: dict) -> bool:
        commands = params.get("commands", [])
        if not all(1 <= len(c.get("description", "")) <= 256 for c in commands):
            raise TelegramError(400, "Bad Request: command description must be 1-256 characters")
        scope = params.get("scope") or {"type": "default"}
        if scope["type"] == "chat":
            self.commands_by_chat[int(scope["chat_id"])] = commands
            return True
        if scope["type"] != "default":
            raise TelegramError(400, f"Bad Request: the fake does not know scope {scope['type']}")
        self.commands_by_language[params.get("language_code")] = commands
        if not params.get("language_code"):
            self.commands = commands
        return True

    async def _api_setMyDescription(self, params: dict) -> bool:
        self.descriptions[params.get("language_code")] = _limited(params.get("description", ""), 512)
        return True

    async def _api_setMyShortDescription(self, params: dict) -> bool:
        text = _limited(params.get("short_description", ""), 120)
        self.short_descriptions[params.get("language_code")] = text
        return True

    async def _api_getUpdates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                pending = list(self._updates[: int(params.get("limit") or 100)])
                if not pending:
                    self._new_update.clear()
            if pending or time.monotonic() >= deadline:
                return pending
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), max(0.01, deadline - time.monotonic()))

    async def _api_sendMessage(self, params: dict) -> dict:
        text = str(params.get("text", ""))
        _check_text(text, params.get("parse_mode"))
        _check_markup(params.get("reply_markup"))
        replying = params.get("reply_parameters") or {}
        if int(replying.get("message_id") or 0) in self.deleted and not replying.get(
            "allow_sending_without_reply"
        ):
            raise TelegramError(400, "Bad Request: message to be replied not found")
        return self._record("sendMessage", params, text)

    async def _api_editMessageReplyMarkup(self, params: dict) -> dict:
        if int(params.get("message_id") or 0) in self.deleted:
            raise TelegramError(400, "Bad Request: message to edit not found")
        _check_markup(params.get("reply_markup"))
        return self._record("editMessageReplyMarkup", params, "")

    async def _api_answerInlineQuery(self, params: dict) -> bool:
        results = params.get("results") or []
        if len(results) > 50:
            raise TelegramError(400, "Bad Request: too many inline query results")
        ids = [str(r.get("id", "")) for r in results]
        if len(set(ids)) != len(ids) or not all(1 <= len(i.encode()) <= 64 for i in ids):
            raise TelegramError(400, "Bad Request: RESULT_ID_INVALID")
        for result in results:
            if result.get("type") != "article" or not result.get("title"):
                raise TelegramError(400, "Bad Request: RESULT_TITLE_EMPTY")
            content = result.get("input_message_content") or {}
            _check_text(str(content.get("message_text", "")), content.get("parse_mode"))
        with self._changed:
            self.inline_answers[str(params.get("inline_query_id"))] = params
            self._changed.notify_all()
        return True

    async def _api_editMessageText(self, params: dict) -> dict:
        text = str(params.get("text", ""))
        if params.get("parse_mode") == "HTML":
            visible_text(text)
        return self._record("editMessageText", params, text)

    async def _api_sendDocument(self, params: dict) -> dict:
        document = params.get("document")
        if not isinstance(document, dict) or "data" not in document:
            raise TelegramError(400, "Bad Request: there is no document in the request")
        _check_markup(params.get("reply_markup"))
        return self._record("sendDocument", params, str(params.get("caption", "")))

    async def _api_sendChatAction(self, params: dict) -> bool:
        return True

    async def _api_answerCallbackQuery(self, params: dict) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id in self.callback_answers:
            raise TelegramError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(params.get("text") or "")) > 200:
            raise TelegramError(400, "Bad Request: MESSAGE_TOO_LONG")
        with self._changed:
            self.callback_answers[query_id] = params
            self._changed.notify_all()
        return True

    async def _api_getFile(self, params: dict) -> dict:
        file_id = params.get("file_id")
        if file_id not in self.files:
            raise TelegramError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_size": len(self.files[file_id]),
            "file_path": f"documents/{file_id}",
        }

    async def _api_close(self, params: dict) -> bool:
        return True

    async def _api_logOut(self, params: dict) -> bool:
        return True

    def _record(self, method: str, params: dict, text: str) -> dict:
        chat_id = int(params.get("chat_id") or 0)
        result = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Visit QA", "username": BOT_USERNAME},
            "text": text,
        }
        if params.get("reply_markup"):
            result["reply_markup"] = params["reply_markup"]
        sent = Sent(method, {**params, "_result": result})
        with self._changed:
            self.sent.append(sent)
            replied_to = (params.get("reply_parameters") or {}).get("message_id")
            if method == "sendMessage" and replied_to is not None:
                self._replies.setdefault(int(replied_to), []).append(sent)
            self._changed.notify_all()
        return result


def _entities(text: str) -> list[dict]:
    """The entities Telegram's client would attach: a leading command, @mentions (UTF-16 offsets)."""
    found = []
    if text.startswith("/"):
        found.append({"type": "bot_command", "offset": 0, "length": utf16_len(text.split()[0])})
    for match in re.finditer(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}", text):
        found.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    return found


def _check_text(text: str, parse_mode: str | None) -> None:
    shown = visible_text(text) if parse_mode == "HTML" else text
    if not shown.strip():
        raise TelegramError(400, "Bad Request: message text is empty")
    if utf16_len(shown) > TEXT_LIMIT:
        raise TelegramError(400, "Bad Request: message is too long")


def _limited(text: str, limit: int) -> str:
    if utf16_len(text) > limit:
        raise TelegramError(400, f"Bad Request: text is longer than {limit} characters")
    return text


def _check_markup(markup: Any) -> None:
    if not markup:
        return
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                raise TelegramError(400, "Bad Request: button text is empty")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
                raise TelegramError(400, "Bad Request: BUTTON_DATA_INVALID")


async def _params(request: web.Request) -> dict[str, Any]:
    """Telegram accepts query strings, form fields (JSON-encoded values) and JSON bodies."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        params.update(await request.json())
    elif request.can_read_body:
        params.update(await request.post())
    for key, value in list(params.items()):
        if isinstance(value, web.FileField):  # an uploaded file: its name and bytes
            params[key] = {"filename": value.filename, "data": value.file.read()}
            continue
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params
