"""``--serve HOST:PORT``: a web page with the live annotated stream (MJPEG) and live stats, plus
``/metrics`` (Prometheus text), ``/stats.json`` and ``/healthz``.

The pipeline only swaps in the newest JPEG; each viewer's thread sends the newest frame whenever it
is ready for one, so a slow viewer skips frames and never slows the pipeline. Frames are encoded
only while someone watches. Binds 127.0.0.1 by default; another address needs a token (checked on
every request: ``Authorization: Bearer T`` or ``?token=T``) or an explicit ``insecure``.
"""

from __future__ import annotations

import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.sinks.base import Sink
from edge.stats import LiveStats

LOOPBACK = ("127.0.0.1", "localhost", "::1")
HEALTHY_WITHIN = 5.0  # seconds: /healthz is 200 while results are this fresh
JPEG_QUALITY = 80

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgesight live</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; margin: 1rem; background: #111; color: #eee; }}
main {{ display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }}
img {{ max-width: 100%; border: 1px solid #444; }}
table {{ border-collapse: collapse; min-width: 16rem; }}
td {{ padding: 0.15rem 0.6rem; border-bottom: 1px solid #333; }} td.v {{ text-align: right; }}
</style></head><body>
<h1>edgesight: {model}</h1>
<main><img id="stream" src="stream.mjpg{query}" alt="live annotated stream">
<table id="stats"><tbody><tr><td>waiting for the first result</td></tr></tbody></table></main>
<script>
const rows = (s) => {{
  const out = [["frames", s.frames], ["fps", s.fps.toFixed(1)],
    ["frame age ms", s.age_ms === null ? "-" : s.age_ms.toFixed(1)], ["dropped", s.dropped],
    ["unreadable", s.unreadable], ["reconnects", s.reconnects]];
  for (const [k, v] of Object.entries(s.stage_ms)) out.push([k + " ms", v.toFixed(2)]);
  for (const [k, v] of Object.entries(s.labels)) out.push(["count: " + k, v]);
  return out;
}};
async function refresh() {{
  try {{
    const s = await (await fetch("stats.json{query}", {{cache: "no-store"}})).json();
    const body = document.createElement("tbody");
    for (const [k, v] of rows(s)) {{
      const tr = body.insertRow(); tr.insertCell().textContent = k;
      const td = tr.insertCell(); td.textContent = v; td.className = "v";
    }}
    document.querySelector("#stats tbody").replaceWith(body);
  }} catch (e) {{}}
}}
refresh(); setInterval(refresh, 1000);
</script></body></html>
"""


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT``, or ``PORT``) -> (host, port); host defaults to 127.0.0.1."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise EdgeError(f"--serve expects HOST:PORT such as 127.0.0.1:8080, got {text!r}")
    return host, int(port)


class WebSink(Sink):
    """Serves the live page, stream and stats from a background thread until ``close``."""

    annotated = True

    def __init__(
        self,
        address: str,
        stats: LiveStats,
        token: str | None = None,
        insecure: bool = False,
        title: str = "",
    ) -> None:
        host, port = parse_address(address)
        if host not in LOOPBACK and not token and not insecure:
            raise EdgeError(
                f"--serve {address} is reachable from other machines: pass --token SECRET (checked on "
                "every request) or --insecure to serve without one"
            )
        self.stats = stats
        self.token = token
        self.title = title
        self.viewers = 0
        self.closing = False
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._seq = 0
        try:
            self.server = ThreadingHTTPServer((host, port), _handler(self))
        except OSError as exc:
            raise EdgeError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc
        self.server.daemon_threads = True
        self._poll = 0.1  # how soon shutdown() is noticed
        self.host, self.port = self.server.server_address[:2]
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(self._poll,), name="web", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def write(self, item: object, image: np.ndarray) -> None:
        if self.viewers == 0 and self._jpeg is not None:
            return  # nobody watching: no encoding
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if ok:
            with self._cond:
                self._jpeg, self._seq = buf.tobytes(), self._seq + 1
                self._cond.notify_all()

    def watch(self, change: int) -> None:
        with self._cond:
            self.viewers += change

    def next_jpeg(self, after: int, timeout: float = 1.0) -> tuple[int, bytes | None]:
        """The newest frame newer than ``after`` (waits up to ``timeout``)."""
        with self._cond:
            if self._seq <= after and not self.closing:
                self._cond.wait(timeout)
            return self._seq, (self._jpeg if self._seq > after else None)

    def authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        if not self.token:
            return True
        header = handler.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else ""
        given = given or parse_qs(urlsplit(handler.path).query).get("token", [""])[0]
        return hmac.compare_digest(given.encode(), self.token.encode())

    def health(self) -> tuple[int, dict]:
        snap = self.stats.snapshot()
        since = snap["seconds_since_result"]
        if since is None:
            return 503, {"status": "starting", "frames": 0}
        status = 200 if since <= HEALTHY_WITHIN else 503
        return status, {
            "status": "ok" if status == 200 else "stale",
            "frames": snap["frames"],
            "seconds_since_result": since,
        }

    def close(self) -> None:
        with self._cond:
            self.closing = True
            self._cond.notify_all()
        self.server.shutdown()
        self.server.server_close()


def _handler(sink: WebSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "edgesight"

        def log_message(self, *args: object) -> None:  # no access log on the terminal
            pass

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if not sink.authorised(self):
                self._send(401, b"a token is needed: ?token=... or Authorization: Bearer ...\n", "text/plain")
                return
            path = urlsplit(self.path).path
            query = f"?token={quote(sink.token)}" if sink.token else ""
            if path in ("/", "/index.html"):
                page = PAGE.format(model=_html(sink.title), query=query)
                self._send(200, page.encode(), "text/html; charset=utf-8")
            elif path == "/stream.mjpg":
                self._stream()
            elif path == "/stats.json":
                self._send(200, json.dumps(sink.stats.snapshot()).encode(), "application/json")
            elif path == "/metrics":
                self._send(200, sink.stats.prometheus().encode(), "text/plain; version=0.0.4")
            elif path == "/healthz":
                status, body = sink.health()
                self._send(status, json.dumps(body).encode(), "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            seq = 0
            sink.watch(+1)
            try:
                while not sink.closing:
                    seq, jpeg = sink.next_jpeg(seq)
                    if jpeg is None:
                        continue
                    head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                    self.wfile.write(head.encode() + jpeg + b"\r\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                pass
            finally:
                sink.watch(-1)

    return Handler


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["WebSink", "parse_address"]
