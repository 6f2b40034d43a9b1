"""Terminal tables of a benchmark record: invoke figures, pipeline stages, sustained windows."""

from __future__ import annotations

from pathlib import Path

from edge.pipeline.stats import STAGES
from edge.util.tables import text_table


def _num(value: object, fmt: str = ".2f") -> str:
    return format(value, fmt) if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def setting_text(result: dict) -> str:
    plural = "s" if result["threads"] != 1 else ""
    return f"{result['threads']} thread{plural}, {result['delegate']}"


def invoke_rows(results: list[dict]) -> list[list[str]]:
    rows = [
        [
            "model",
            "runtime",
            "threads, delegate",
            "init ms",
            "first ms",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "mean ms",
            "std ms",
            "fps",
            "+RSS MB",
            "peak MB",
        ]
    ]
    for r in results:
        rows.append(
            [
                Path(r["model"]).name,
                f"{r['runtime']} {r['runtime_version']}",
                setting_text(r),
                _num(r["init_ms"], ".1f"),
                _num(r["first_ms"]),
                _num(r["p50_ms"], ".3f"),
                _num(r["p90_ms"], ".3f"),
                _num(r["p99_ms"], ".3f"),
                _num(r["mean_ms"], ".3f"),
                _num(r["std_ms"], ".3f"),
                _num(r["fps"], ".1f"),
                _num(r["rss_model_mb"], ".1f"),
                _num(r["peak_rss_mb"], ".1f"),
            ]
        )
    return rows


def pipeline_rows(results: list[dict]) -> list[list[str]]:
    rows = [["model", "setting", *(f"{s} ms" for s in STAGES), "fps", "age p50 ms", "age p90 ms", "frames"]]
    for r in results:
        p = r["pipeline"]
        rows.append(
            [
                Path(r["model"]).name,
                f"{r['runtime']}, {setting_text(r)}",
                *(_num(p["stage_p50_ms"].get(s)) for s in STAGES),
                _num(p["fps"], ".1f"),
                _num(p["age_p50_ms"]),
                _num(p["age_p90_ms"]),
                str(p["frames"]),
            ]
        )
    return rows


def window_rows(windows: list[dict]) -> list[list[str]]:
    rows = [["from s", "runs", "fps", "p50 ms", "p90 ms", "temp C", "clock MHz", "throttled now"]]
    for w in windows:
        throttled = w["throttled"]
        now = (", ".join(throttled["now"]) or "no") if isinstance(throttled, dict) else throttled
        rows.append(
            [
                _num(w["start_s"], ".0f"),
                str(w["runs"]),
                _num(w["fps"], ".1f"),
                _num(w["p50_ms"], ".3f"),
                _num(w["p90_ms"], ".3f"),
                _num(w["temperature_c"], ".1f"),
                _num(w["freq_mhz"], ".0f"),
                now,
            ]
        )
    return rows


def device_line(device: dict) -> str:
    board = f"{device['board']}, " if device["board"] != "unknown" else ""
    temps = device["temperatures_c"]
    temp = f", {max(temps.values()):.1f} C" if isinstance(temps, dict) and temps else ""
    clock = (
        f", {device['governor']} {_num(device['freq_mhz'], '.0f')}/{_num(device['max_freq_mhz'], '.0f')} MHz"
        if device["governor"] != "unknown"
        else ""
    )
    return (
        f"{board}{device['cpu_model']} ({device['arch']}, {device['cores_usable']} of {device['cores']} cores"
        f"{clock}{temp}); {device['os']}; Python {device['python']}, numpy {device['numpy']}, "
        f"OpenCV {device['opencv']}"
    )


def format_record(record: dict) -> list[str]:
    """The terminal report of a benchmark record."""
    s = record["settings"]
    timed = (
        f"{s['duration_s']:g} s sustained"
        if s["duration_s"]
        else (f"{s['seconds']:g} s budget" if s["seconds"] else f"{s['runs']} runs")
    )
    out = [
        f"device: {device_line(record['device'])}",
        f"input: {s['input']}; {s['warmup']} warm-up runs, then {timed}; latency of set-input + invoke + "
        "read-outputs",
        "",
        text_table(invoke_rows(record["results"])),
    ]
    piped = [r for r in record["results"] if "pipeline" in r]
    if piped:
        p = piped[0]["pipeline"]
        drawn = "with drawing" if p["drawn"] else "no outputs (add --draw to time drawing)"
        out += ["", f"pipeline on {p['source']} ({p['mode']}-frame mode, {drawn}), p50 per stage:"]
        out += [text_table(pipeline_rows(piped))]
        for r in piped:  # its invoke is then not the file's, timed above
            if r["pipeline"].get("graph"):
                out.append(f"{Path(r['model']).name} in the pipeline: {r['pipeline']['graph']}")
    for r in record["results"]:
        if r.get("windows"):
            out += ["", f"sustained: {Path(r['model']).name}, {r['runtime']}, {setting_text(r)}"]
            out += [text_table(window_rows(r["windows"]))]
            first, last = r["windows"][0]["fps"], r["windows"][-1]["fps"]
            if first > 0:
                out.append(f"last window / first window throughput: {last / first:.2f}x")
    return out
