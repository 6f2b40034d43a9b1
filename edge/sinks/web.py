"""``--serve HOST:PORT``: a web page with the live annotated stream (MJPEG: with tracking, the lines
and zones drawn on it) and live stats (with tracking, the counts), plus ``/metrics`` (Prometheus
text), ``/stats.json`` and ``/healthz``.

The pipeline only hands over its newest annotated frame; an encoder thread turns it into JPEG (only
while someone watches), and each viewer's thread sends the newest JPEG whenever it is ready for one,
so a slow viewer skips frames and never slows the pipeline. Binds 127.0.0.1 by default; another
address needs a token (checked on every request: ``Authorization: Bearer T`` or ``?token=T``) or an
explicit ``insecure``.

A device serves this for weeks, so the server holds under abuse: at most ``MAX_CONNECTIONS`` at once
(more are closed at once), a client gets ``REQUEST_TIMEOUT`` seconds to send its whole request (idle
and slow senders are cut off), a viewer that takes nothing for ``SEND_TIMEOUT`` seconds is dropped,
and a client that goes away is not an error: nothing reaches stderr.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.pipeline.stats import LiveStats
from edge.sinks.base import Sink

LOOPBACK = ("127.0.0.1", "localhost", "::1")
HEALTHY_WITHIN = 5.0  # seconds: /healthz is 200 while results are this fresh
JPEG_QUALITY = 80
MAX_CONNECTIONS = 128  # connections at once; then the oldest still sending its request makes room
REQUEST_TIMEOUT = 3.0  # seconds a client has to send its request line and headers
SEND_TIMEOUT = 10.0  # seconds a viewer may take no data before it is dropped
BACKLOG = 128  # connections the kernel queues before accept
LOG = logging.getLogger("edgesight.web")

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
  for (const [k, v] of Object.entries(s.outputs || {{}})) out.push([k.replace("_", " "), v]);
  const t = s.tracking;
  if (t) {{
    out.push(["tracks", t.tracks]);
    for (const [k, c] of Object.entries(t.lines)) out.push(["line " + k, "in " + c.in + " / out " + c.out]);
    for (const [k, c] of Object.entries(t.zones))
      out.push(["zone " + k, c.occupancy + " now, " + c.entered + " in, " + c.exited + " out"]);
  }}
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


class Deadlines:
    """Sockets that must finish their request by a deadline; a thread shuts down the late ones, which
    ends their handler's blocked read (a slow sender defeats a per-read timeout, not this)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._due: dict[socket.socket, float] = {}
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._reap, name="web-deadlines", daemon=True)
        self._thread.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._due[sock] = time.monotonic() + self.seconds

    def done(self, sock: socket.socket) -> None:
        with self._lock:
            self._due.pop(sock, None)

    def cut_oldest(self) -> bool:
        """Shut down the connection that has waited longest for its request; False when none waits."""
        with self._lock:
            if not self._due:
                return False
            sock = min(self._due, key=self._due.__getitem__)
            del self._due[sock]
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return True

    def _reap(self) -> None:
        while not self._closing.wait(0.2):
            now = time.monotonic()
            with self._lock:
                late = [s for s, due in self._due.items() if due <= now]
                for s in late:
                    del self._due[s]
            for s in late:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closing.set()


class _Server(ThreadingHTTPServer):
    """A thread per connection, at most ``limit`` of them. At the limit, the connection that has waited
    longest for its request is cut to make room (idle and slow clients cannot lock out a real one);
    when every connection is a live viewer, the new one is refused. Client errors are not printed."""

    daemon_threads = True
    request_queue_size = BACKLOG

    def __init__(self, address: tuple[str, int], handler: type, limit: int, deadlines: Deadlines) -> None:
        super().__init__(address, handler)
        self.limit = limit
        self.deadlines = deadlines
        self.active = 0
        self.refused = 0
        self._count = threading.Lock()

    def process_request(self, request, client_address) -> None:
        with self._count:
            full = self.active >= self.limit and not self.deadlines.cut_oldest()
            if full:
                self.refused += 1
            else:
                self.active += 1
        if full:
            self.shutdown_request(request)  # closed before any thread or byte is spent on it
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._count:
                self.active -= 1

    def handle_error(self, request, client_address) -> None:
        # A viewer that left, timed out or was cut off: not an error of this process.
        LOG.debug("connection from %s ended early", client_address[0] if client_address else "?")


class WebSink(Sink):
    """Serves the live page, stream and stats from background threads until ``close``."""

    annotated = True

    def __init__(
        self,
        address: str,
        stats: LiveStats,
        token: str | None = None,
        insecure: bool = False,
        title: str = "",
        max_connections: int = MAX_CONNECTIONS,
        request_timeout: float = REQUEST_TIMEOUT,
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
        self._frame: np.ndarray | None = None
        self._frame_cond = threading.Condition()
        self.deadlines = Deadlines(request_timeout)
        try:
            self.server = _Server((host, port), _handler(self), max_connections, self.deadlines)
        except OSError as exc:
            self.deadlines.close()
            raise EdgeError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc
        self.host, self.port = self.server.server_address[:2]
        self._threads = [
            threading.Thread(target=self.server.serve_forever, args=(0.1,), name="web", daemon=True),
            threading.Thread(target=self._encode, name="web-jpeg", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def write(self, item: object, image: np.ndarray) -> None:
        """Hand the newest annotated frame to the encoder thread (no encoding on the pipeline's path)."""
        if self.viewers == 0 and self._jpeg is not None:
            return  # nobody watching: no encoding
        with self._frame_cond:
            self._frame = image
            self._frame_cond.notify()

    def _encode(self) -> None:
        while not self.closing:
            with self._frame_cond:
                if self._frame is None:
                    self._frame_cond.wait(0.2)
                image, self._frame = self._frame, None
            if image is None:
                continue
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
        self.deadlines.close()
        self.server.shutdown()
        self.server.server_close()


def _handler(sink: WebSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "edgesight"
        timeout = SEND_TIMEOUT  # every read and write on the socket

        def setup(self) -> None:
            super().setup()
            sink.deadlines.watch(self.connection)

        def parse_request(self) -> bool:
            ok = super().parse_request()
            sink.deadlines.done(self.connection)  # the request is in: no more deadline
            return ok

        def finish(self) -> None:
            sink.deadlines.done(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

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
            except OSError:  # the viewer left or stalled past SEND_TIMEOUT
                pass
            finally:
                sink.watch(-1)

    return Handler


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["WebSink", "parse_address"]
