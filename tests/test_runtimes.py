"""Every export mode gives the same top-1 on ai-edge-litert (here) and on tflite-runtime 2.14, the
interpreter many Raspberry Pis have, run through the real CLI in the second environment that
``make test`` builds (.venv-tflrt: numpy<2, opencv<4.12)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

import edge
from edge.imagefolder import read_image
from tests.conftest import ROOT

IMAGES_PER_CLASS = 6
TFLRT_FLAGS = ("--runtime", "tflite-runtime", "--threads", "2")
MAX_TIE_MARGIN = 0.05


@pytest.fixture(scope="module")
def tflrt_python() -> Path:
    value = os.environ.get("EDGESIGHT_TFLRT_PYTHON")
    if not value:
        pytest.skip("EDGESIGHT_TFLRT_PYTHON not set: make test builds .venv-tflrt and sets it")
    python = Path(value)
    assert python.is_file(), f"EDGESIGHT_TFLRT_PYTHON={value} does not exist"
    return python


def _val_images(data: Path) -> list[Path]:
    return [p for d in sorted((data / "val").iterdir()) for p in sorted(d.iterdir())[:IMAGES_PER_CLASS]]


def _predict(python: Path, model: Path, images: list[Path]) -> list[list[tuple[int, float]]]:
    """Top-2 (id, score) per image from ``edgesight predict`` in the other environment."""
    proc = subprocess.run(
        [python, "-m", "edge.cli", "predict", model, *images, "--json", "--top-k", "2", *TFLRT_FLAGS],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return [[(c["id"], c["score"]) for c in json.loads(line)["classes"]] for line in proc.stdout.splitlines()]


def test_every_mode_gives_the_same_top1_on_tflite_runtime_2_14(trained, tflrt_python):
    """Same top-1 on every image, except where both runtimes see a near tie: their int8 kernels may
    round differently by a step or two, which can only swap two classes whose scores (nearly) tie."""
    images = _val_images(trained["data"])
    for mode, path in trained["models"].items():
        with edge.load(path, runtime="litert", top_k=2) as model:
            ours = [model(read_image(p)) for p in images]
        theirs = _predict(tflrt_python, path, images)
        assert len(theirs) == len(images), mode
        for image, a, b in zip(images, ours, theirs):
            if int(a.ids[0]) != b[0][0]:
                margins = (float(a.scores[0] - a.scores[1]), b[0][1] - b[1][1])
                assert max(margins) < MAX_TIE_MARGIN, f"{mode} {image.name}: {a} vs {b}"


def test_the_second_environment_really_is_tflite_runtime_2_14_with_numpy_1(tflrt_python):
    code = "import numpy, tflite_runtime; print(tflite_runtime.__version__, numpy.__version__)"
    proc = subprocess.run([tflrt_python, "-c", code], capture_output=True, text=True, check=True)
    out = proc.stdout.split()
    assert out[0].startswith("2.14.") and out[1].startswith("1.")
