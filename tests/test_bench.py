"""edgesight bench: the sweep, the record, the pipeline and sustained modes, comparisons and their
plot (in real Chromium), the device record, bad input and Ctrl-C. Runs in both environments: what
the delegate column says differs between ai-edge-litert and tflite-runtime 2.14, as it should."""

import hashlib
import json
import os
import platform
import shutil
import signal
import stat
import sys

import numpy as np
import pytest

from edge.bench.device import cpu_model, cpuinfo_fields, decode_throttled, device_record, thermal_state
from edge.bench.latency import summarize, time_runs
from edge.bench.sustained import parse_duration
from edge.errors import EdgeError
from edge.model.runtime import Runtime, installed_runtimes
from tests.conftest import ASSETS, IMAGES, ROOT, SSD_LABELS, SSD_MODEL, run_cli, start_cli, stop, wait_for

UINT8 = ASSETS / "models/classification/mobilenet_v1_0.25_224_quant.tflite"
FLOAT = ASSETS / "models/classification/mobilenet_v1_0.25_224_1_metadata_1.tflite"
TRAFFIC = ASSETS / "video/traffic_frames.mp4"
RUNTIME = installed_runtimes()[0]
PI_CPUINFO = ROOT.parent / "shared/pi/cpuinfo-pi4"
RESULT_KEYS = {"threads", "xnnpack", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "fps"}


def bench(*args, timeout=600):
    return run_cli("bench", *args, timeout=timeout)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sweep(assets, tmp_path_factory):
    """Two models x threads 1,2 x XNNPACK on and off, through the real command."""
    out = tmp_path_factory.mktemp("bench") / "sweep.json"
    done = bench(FLOAT, UINT8, "--threads", "1,2", "--xnnpack", "both", "--runs", "20", "--json", out)
    assert done.returncode == 0, done.stderr
    return done, json.loads(out.read_text())


def test_the_record_has_the_device_the_models_and_one_result_per_setting(sweep):
    done, record = sweep
    assert {"device", "runtime", "model", "results", "settings"} <= record.keys()
    assert [m["sha256"] for m in record["model"]] == [sha256(FLOAT), sha256(UINT8)]
    assert [m["size_bytes"] for m in record["model"]] == [FLOAT.stat().st_size, UINT8.stat().st_size]
    assert record["runtime"]["name"] == RUNTIME
    device = record["device"]
    assert device["arch"] == platform.machine() and device["cores"] == os.cpu_count()
    assert device["python"] == platform.python_version() and device["numpy"] == np.__version__
    settings = [(r["model"].endswith(FLOAT.name), r["threads"], r["xnnpack"]) for r in record["results"]]
    assert settings == [(m, t, x) for m in (True, False) for t in (1, 2) for x in (True, False)]
    for r in record["results"]:
        assert r.keys() >= RESULT_KEYS
        assert r["runs"] == 20 and r["warmup"] == 10
        assert 0 < r["min_ms"] <= r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"]
        assert r["fps"] == pytest.approx(1000 / r["mean_ms"], rel=0.01)
        assert r["init_ms"] > 0 and r["first_ms"] > 0 and r["std_ms"] >= 0
        assert r["rss_model_mb"] > 0 and r["peak_rss_mb"] >= r["rss_before_mb"] + r["rss_model_mb"] - 0.5
    # the table on the terminal has a row per result, and progress went to stderr
    assert done.stdout.count(FLOAT.name) == 4 and done.stdout.count(UINT8.name) == 4
    assert "[8/8]" in done.stderr


def test_the_delegate_is_what_the_interpreter_reports(sweep):
    _, record = sweep
    by = {(r["model"].endswith(FLOAT.name), r["xnnpack"]): r["delegate"] for r in record["results"]}
    assert by[(True, False)] == by[(False, False)] == "none"  # --xnnpack off: built-in kernels only
    assert by[(True, True)].startswith("XNNPACK")  # float32 goes to XNNPACK on every runtime
    # uint8 is taken by XNNPACK in ai-edge-litert; tflite-runtime 2.14 on x86 leaves it to the kernels
    assert by[(False, True)].startswith("none" if RUNTIME == "tflite-runtime" else "XNNPACK")


def test_an_image_and_a_source_feed_the_model_and_the_pipeline_is_timed_per_stage(assets, tmp_path):
    out = tmp_path / "ssd.json"
    done = bench(
        SSD_MODEL, "--labels", SSD_LABELS, "--source", TRAFFIC, "--draw", "--runs", "10", "--json", out
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(out.read_text())
    assert record["settings"]["input"].startswith("20 frames of")
    pipe = record["results"][0]["pipeline"]
    assert pipe["frames"] == 20 and pipe["fps"] > 0 and pipe["drawn"] and pipe["mode"] == "every"
    assert set(pipe["stage_p50_ms"]) == {"capture", "preprocess", "invoke", "postprocess", "output"}
    assert all(v > 0 for v in pipe["stage_p50_ms"].values())
    assert pipe["age_p90_ms"] >= pipe["age_p50_ms"] > 0
    assert "pipeline on" in done.stdout

    done = bench(UINT8, "--image", IMAGES / "dog.jpg", "--runs", "5", "--json", out)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["settings"]["input"] == f"image {IMAGES / 'dog.jpg'}, preprocessed"


def test_sustained_mode_reports_each_window(assets, tmp_path):
    out = tmp_path / "sustained.json"
    done = bench(UINT8, "--duration", "3s", "--window", "1s", "--json", out)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())["results"][0]
    windows = result["windows"]
    assert len(windows) == 3 and [w["start_s"] for w in windows] == sorted(w["start_s"] for w in windows)
    assert sum(w["runs"] for w in windows) == result["runs"]
    assert all(w["runs"] > 0 and w["fps"] > 0 and "temperature_c" in w for w in windows)
    assert "last window / first window throughput" in done.stdout


def test_compare_puts_records_side_by_side_with_ratios_and_a_plot(assets, sweep, tmp_path):
    _, record = sweep
    first = tmp_path / "pi.json"
    slow = json.loads(json.dumps(record))  # the same results on a device twice as slow
    slow["name"] = "pi"
    for r in slow["results"]:
        for key in ("p50_ms", "p90_ms", "mean_ms"):
            r[key] *= 2
        r["fps"] /= 2
    laptop = tmp_path / "laptop.json"
    record["name"] = "laptop"
    laptop.write_text(json.dumps(record))
    first.write_text(json.dumps(slow))
    args = ["--compare", first, laptop]
    if shutil.which("chromium") and importlib_available("matplotlib"):
        args += ["--plot", tmp_path / "plot"]
    done = bench(*args)
    assert done.returncode == 0, done.stderr
    rows = [ln for ln in done.stdout.splitlines() if ln.startswith(("pi ", "laptop "))]
    assert len(rows) == 16
    assert all(ln.endswith("1.00x") for ln in rows if ln.startswith("pi "))
    assert all(ln.endswith("0.50x") for ln in rows if ln.startswith("laptop "))
    if "--plot" in args:
        png, page = tmp_path / "plot.png", tmp_path / "plot.html"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            view = browser.new_page()
            view.goto(page.as_uri())
            assert view.locator("#results tbody tr").count() == 16
            assert view.evaluate("document.getElementById('plot').naturalWidth") > 500
            assert "laptop" in view.locator("#devices").inner_text()
            browser.close()


def importlib_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@pytest.mark.parametrize(
    "args, message",
    [
        (["--threads", "0"], "--threads must be 1 or more"),
        (["--threads", "two"], "whole numbers"),
        (["--runtime", "nonesuch"], "unknown runtime"),
        (["--source", "/nonexistent/clip.mp4"], "unknown source"),
        (["--duration", "0"], "expected a duration above 0"),
        (["--image", "/nonexistent.jpg"], "image not found"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(assets, args, message):
    done = bench(UINT8, *args)
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_runtime_that_is_not_installed_is_named(assets):
    missing = next(r for r in ("tflite-runtime", "litert") if r not in installed_runtimes())
    done = bench(UINT8, "--runtime", missing)
    assert done.returncode == 2 and f"runtime {missing!r} is not installed: pip install" in done.stderr


def test_a_model_that_fails_to_allocate_and_a_source_without_frames_exit_2(assets, tmp_path):
    custom = tmp_path / "custom_op.tflite"  # the SSD with its post-processing op renamed: no kernel for it
    custom.write_bytes(
        SSD_MODEL.read_bytes().replace(b"TFLite_Detection_PostProcess", b"Edgesight_Missing_CustomOp_X")
    )
    done = bench(custom)
    assert done.returncode == 2 and "unresolved custom op" in done.stderr and "Traceback" not in done.stderr
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(UINT8.read_bytes()[:4000])
    assert bench(truncated).returncode == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    done = bench(UINT8, "--source", empty)
    assert done.returncode == 2 and "no images" in done.stderr
    not_video = tmp_path / "clip.mp4"
    not_video.write_text("not a video")
    done = bench(UINT8, "--source", not_video)
    assert done.returncode == 2 and "cannot open video" in done.stderr


def test_ctrl_c_keeps_the_settings_that_finished(assets, tmp_path):
    out = tmp_path / "partial.json"
    proc = start_cli("bench", UINT8, "--threads", "1,2", "--xnnpack", "both", "--seconds", "3", "--json", out)
    lines: list[str] = []
    # the first setting's line on stderr (3 s of runs plus a start-up)
    assert wait_for(lambda: lines.append(proc.stderr.readline()) or "[1/4]" in "".join(lines), timeout=60)
    _, err, took = stop(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    record = json.loads(out.read_text())
    assert record["interrupted"] is True and 1 <= len(record["results"]) < 4
    assert took < 5


def test_duration_parsing():
    assert [parse_duration(t) for t in ("90", "90s", "10m", "1.5m", "1h")] == [90, 90, 600, 90, 3600]
    for bad in ("", "-1m", "10 minutes", "0s"):
        with pytest.raises(EdgeError):
            parse_duration(bad)


def test_timed_runs_count_and_budget(assets):
    with Runtime(UINT8.read_bytes(), threads=1) as rt:
        inputs = [[np.zeros((1, 224, 224, 3), np.uint8)], [np.full((1, 224, 224, 3), 255, np.uint8)]]
        assert len(time_runs(rt, inputs, runs=7)) == 7
        samples = time_runs(rt, inputs, seconds=0.3)
        assert samples.sum() <= 0.3 + samples.max() and len(samples) > 1
        lat = summarize(rt, samples, warmup=0, first_s=0.001)
    ms = samples * 1e3
    assert lat.p50_ms == pytest.approx(np.median(ms)) and lat.max_ms == pytest.approx(ms.max())
    assert lat.runs == len(samples) and lat.first_ms == pytest.approx(1.0)


def test_the_device_record_reads_a_raspberry_pi(tmp_path, monkeypatch):
    """A Pi-like tree (the cpuinfo of ../shared/pi, thermal zone and cpufreq files as a Pi 4 has them)
    and a vcgencmd on PATH that answers as the Pi firmware does."""
    root = tmp_path
    (root / "proc/device-tree").mkdir(parents=True)
    (root / "proc/cpuinfo").write_text(
        PI_CPUINFO.read_text() if PI_CPUINFO.is_file() else "CPU implementer\t: 0x41\nCPU part\t: 0xd08\n"
    )
    (root / "proc/device-tree/model").write_text("Raspberry Pi 4 Model B Rev 1.4\x00")
    zone = root / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "type").write_text("cpu-thermal\n")
    (zone / "temp").write_text("61354\n")
    freq = root / "sys/devices/system/cpu/cpu0/cpufreq"
    freq.mkdir(parents=True)
    for name, value in (
        ("scaling_governor", "ondemand"),
        ("scaling_cur_freq", "1500000"),
        ("cpuinfo_max_freq", "1800000"),
    ):
        (freq / name).write_text(value + "\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    vcgencmd = bin_dir / "vcgencmd"
    vcgencmd.write_text('#!/bin/sh\n[ "$1" = get_throttled ] && echo throttled=0x50005\n')
    vcgencmd.chmod(vcgencmd.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    device = device_record(root)
    assert device["board"] == "Raspberry Pi 4 Model B Rev 1.4" and device["cpu_model"] == "Cortex-A72"
    assert device["governor"] == "ondemand" and device["freq_mhz"] == 1500 and device["max_freq_mhz"] == 1800
    assert device["temperatures_c"] == {"cpu-thermal": pytest.approx(61.354)}
    assert device["throttled"] == {
        "raw": "0x50005",
        "now": ["under-voltage", "throttled"],
        "since_boot": ["under-voltage", "throttled"],
    }
    state = thermal_state(root)
    assert state["temperature_c"] == pytest.approx(61.354) and state["freq_mhz"] == 1500


def test_what_this_machine_does_not_expose_is_unknown(tmp_path):
    device = device_record(tmp_path)  # an empty tree: no cpuinfo, no thermal zones, no cpufreq
    assert device["temperatures_c"] == "unknown" and device["governor"] == "unknown"
    assert device["freq_mhz"] == "unknown" and device["board"] == "unknown"


def test_cpu_names_and_throttle_flags():
    assert cpu_model(cpuinfo_fields("model name\t: AMD EPYC 7B13\nflags\t: fpu\n")) == "AMD EPYC 7B13"
    assert cpu_model(cpuinfo_fields("CPU implementer\t: 0x41\nCPU part\t: 0xd03\n")) == "Cortex-A53"
    assert decode_throttled("throttled=0x0") == {"raw": "0x0", "now": [], "since_boot": []}
    assert decode_throttled("throttled=0x80000")["since_boot"] == ["soft temperature limit"]


def test_the_honesty_script_compares_with_a_bare_loop(assets, tmp_path):
    import subprocess

    out = tmp_path / "honesty.json"
    done = subprocess.run(
        [
            sys.executable,
            ROOT / "tools/bench_honesty.py",
            UINT8,
            "--runs",
            "30",
            "--rounds",
            "2",
            "--json",
            out,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(out.read_text())
    assert row["runs"] == 60 and row["bare_p50_ms"] > 0 and row["ours_p50_ms"] > 0
    assert row["ratio"] == pytest.approx(row["ours_p50_ms"] / row["bare_p50_ms"], rel=1e-3)
    assert "verdict:" in done.stdout
