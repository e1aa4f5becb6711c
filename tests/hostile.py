"""A hostile upstream for tests: it speaks DashScope's and OpenAI's paths, and misbehaves on request.

The behaviour is picked by a marker in the request body, ``[hostile:NAME]``, so one server
(and one gateway in front of it) covers every case. It runs in a thread of the test
process and counts the POSTs it gets per marker.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

_MARKER = re.compile(rb"\[hostile:([a-z0-9-]+)\]")


def png(size: tuple[int, int] = (64, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


#: Answers that are the same every time, by marker.
_FIXED: dict[str, tuple[int, bytes, str]] = {
    "http-504": (504, b"<html>504 Gateway Time-out</html>", "text/html"),  # a proxy gave up waiting (compat only)
    "deep": (200, b'{"output": ' + b"[" * 5000 + b"]" * 5000 + b', "data": {"output": 1}}', "application/json"),
    "wrong-shape": (200, b'{"output": "nope", "data": 5, "choices": {"a": 1}}', "application/json"),
    # A RIFF file that is not a WEBP (a WAVE), inline as an image.
    "not-an-image": (200, b'{"data": [{"b64_json": "UklGRgAAAABXQVZFZm10IA=="}]}', "application/json"),
    "non-json": (200, b"<html>upstream debug page</html>", "text/html"),
    "choices-null": (200, b'{"id": "x", "object": "chat.completion", "choices": null}', "application/json"),
}


class Hostile:
    def __init__(self) -> None:
        self.posts: Counter[str] = Counter()
        self.gets: Counter[str] = Counter()
        self.codes = itertools.count()
        #: Where ``[hostile:other-port]`` and ``[hostile:redirect]`` send the gateway.
        self.elsewhere = ""
        self.other: Hostile | None = None
        handler = type("Handler", (_Handler,), {"hostile": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    hostile: Hostile
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: object) -> None:
        self._send(status, json.dumps(payload).encode())

    def do_GET(self) -> None:
        self.hostile.gets[self.path] += 1
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("location", self.hostile.elsewhere + "/image.png")
            self.send_header("content-length", "0")
            self.end_headers()
            return
        if self.path.endswith(".png"):
            self._send(200, png(), "image/png")
            return
        self._json(404, {"error": {"message": "no such path"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        match = _MARKER.search(body)
        mode = match.group(1).decode() if match else "ok"
        self.hostile.posts[mode] += 1
        compat = "/compatible-mode/" in self.path or self.path.startswith("/v1/")
        auth = self.headers.get("authorization", "")
        self._answer(mode, compat, auth)

    def _answer(self, mode: str, compat: bool, auth: str) -> None:
        if mode in ("echo-400", "echo-500", "echo-401"):
            status = int(mode[-3:])
            message = f"Invalid value, your header was: {auth}"
            if compat:
                error = {"message": message, "type": "invalid_request_error", "code": f"bad {auth}"}
                self._json(status, {"error": error, "request_id": f"req-{auth}"})
            else:
                code = {400: "InvalidParameter", 401: "InvalidApiKey", 500: "InternalError"}[status]
                self._json(status, {"code": code, "message": message, "request_id": f"req-{auth}"})
        elif mode in _FIXED and (compat or mode != "http-504"):
            self._send(*_FIXED[mode])
        elif mode == "new-code":  # a new error code on every answer
            code = f"E{next(self.hostile.codes)}"
            self._json(400, {"code": code, "message": "no", "error": {"message": "no", "code": code}})
        elif mode == "no-images":
            if compat:
                self._json(200, {"created": 1, "data": [], "choices": None})
            else:
                self._json(200, {"output": {"choices": []}, "request_id": "req-empty"})
        elif mode == "huge":
            self._huge()
        elif mode in ("other-port", "redirect"):
            where = self.hostile.elsewhere if mode == "other-port" else self.hostile.url + "/redirect"
            self._json(200, {"created": 1, "data": [{"url": where + "/image.png"}]})
        elif compat:
            self._json(200, {"created": 1, "data": [{"b64_json": base64.b64encode(png()).decode()}]})
        else:
            content = [{"image": self.hostile.url + "/result.png"}]
            message = {"role": "assistant", "content": content}
            output = {"choices": [{"finish_reason": "stop", "message": message}]}
            self._json(200, {"output": output, "usage": {"image_count": 1}, "request_id": "req-ok"})

    def _huge(self) -> None:
        # 600 MB of JSON-looking bytes, made as they are sent: the gateway must stop reading.
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(600 * 1024 * 1024))
        self.end_headers()
        chunk = b'{"pad": "' + b"x" * (1024 * 1024 - 12) + b'", '
        try:
            for _ in range(600):
                self.wfile.write(chunk)
        except OSError:
            pass  # the gateway hung up, as it should
