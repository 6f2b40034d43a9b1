"""The main job end to end on a small budget: every artefact of the demo is written and consistent."""

import json

import cv2

from train.demo import run_demo


def test_demo_writes_report_summary_video_and_jsonl(tmp_path):
    out = tmp_path / "demo"
    summary = run_demo(out, epochs=2, size=32, images_per_class=40, frames=30, seed=1)
    assert set(summary["variants"]) == {"keras", "float32", "int8"}
    for name, row in summary["variants"].items():
        assert 0.0 <= row["accuracy"] <= 1.0 and row["size_bytes"] > 0
        assert (row["latency_p50_ms"] is None) == (name == "keras")
    assert summary["variants"]["int8"]["size_bytes"] < summary["variants"]["float32"]["size_bytes"]
    assert json.loads((out / "summary.json").read_text()) == summary
    for name in ("report.md", "report.html", "variants.png", "confusion.png", "live.mp4", "live.jsonl"):
        assert (out / name).is_file(), name
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3 and "int8" in html
    lines = (out / "live.jsonl").read_text().splitlines()
    assert len(lines) == 30 and json.loads(lines[-1])["index"] == 29
    cap = cv2.VideoCapture(str(out / "live.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 30
    cap.release()
    assert summary["live"]["frames"] == 30 and 0.0 <= summary["live"]["agreement_with_truth"] <= 1.0
