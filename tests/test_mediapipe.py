"""MediaPipe Tasks reads our standard metadata: tools/mediapipe_check.py, run for real.

The script builds its own environment with mediapipe (.venv-mediapipe, once). The validation images
are first resized to the model's input size with edge's own resize, so that both classifiers see
the same pixels: this tiny test model is sensitive to MediaPipe's different resampling, and what is
under test here is the metadata (labels, normalisation, quantised input), not resampling.
"""

import subprocess
import sys

import cv2

from edge.tasks.preprocess import resize
from tests.conftest import ROOT, TRAINED_SIZE


def test_mediapipe_image_classifier_reads_our_uint8_export(trained, tmp_path):
    val = tmp_path / "val_small"
    for path in sorted((trained["data"] / "val").glob("*/*.png")):
        (val / path.parent.name).mkdir(parents=True, exist_ok=True)
        small, _ = resize(cv2.imread(str(path)), TRAINED_SIZE, TRAINED_SIZE, "stretch")
        cv2.imwrite(str(val / path.parent.name / path.name), small)
    script = ROOT / "tools/mediapipe_check.py"
    proc = subprocess.run(
        [sys.executable, script, trained["models"]["int8"], val, "--min-agreement", "0.97"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verdict: PASS" in proc.stdout and "labels read from the model" in proc.stdout
