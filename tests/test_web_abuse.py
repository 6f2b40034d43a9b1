"""The web view under abuse (issue 14): idle connections and slow senders against a run with a token on
an unpaced source. ``python tools/web_abuse.py`` measures the fps ratio; this asserts what does not
depend on the machine's speed."""

from __future__ import annotations

from tests.conftest import free_port, start_cli, stop, wait_for
from tools.web_abuse import TOKEN, get


def test_the_web_view_holds_under_idle_and_slow_clients(assets):
    """1,000 idle connections opened over a minute and 50 slow senders that never authenticate
    (``tools/web_abuse.py``), against a run on an unpaced source: /healthz keeps answering within a
    second, idle sockets are closed by the server within its timeout, the pipeline goes on, and stderr
    holds no traceback.

    The pace target (at least 90% of the fps without the abuse) is a speed target, so it is measured
    and printed by ``python tools/web_abuse.py``, not asserted here: on this shared machine the ratio
    moved between 0.869 and 1.009 from run to run. Asserted here is only that the pipeline is not
    starved (at least half its fps): a server whose connections block the pipeline fails that.

    Not in the serial pass, where a minute of waiting on sockets would leave a core idle: beside the
    other worker, with one interpreter thread, and the ratio compares windows of the same run."""
    from edge.sinks.web import REQUEST_TIMEOUT
    from tools.web_abuse import line, measure

    port = free_port()
    model = assets / "models/classification/mobilenet_v1_0.25_224_quant.tflite"
    proc = start_cli("run", model, "--source", "synthetic", "--frames", "100000000", "--threads", "1",
                     "--serve", f"127.0.0.1:{port}", "--token", TOKEN)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: get(f"{base}/healthz")[0] == 200, timeout=30), proc.stderr.read()
        result = measure(base, port, REQUEST_TIMEOUT, TOKEN, window=2.0)  # 2 s; the tool's 5 s for its ratio
        print(line(result))
        assert max(result["health_ms"]) < 1000, result["health_ms"]
        assert max(result["lifetimes"]) <= REQUEST_TIMEOUT + 1.0, max(result["lifetimes"])
        assert result["ratio"] >= 0.5, line(result)
    finally:
        _, err, _ = stop(proc)
    assert "Traceback" not in err and proc.returncode == 130, err
