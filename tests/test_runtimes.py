"""Every export mode gives the same top-1 on ai-edge-litert (here) and on tflite-runtime 2.14, the
interpreter many Raspberry Pis have, run through the real CLI in the second environment that
``make test`` builds (.venv-tflrt: numpy<2, opencv<4.12)."""

import json
import subprocess
from pathlib import Path

import numpy as np

import edge
from edge.sources.images import read_image
from tests.conftest import ROOT

IMAGES_PER_CLASS = 6
TFLRT_FLAGS = ("--runtime", "tflite-runtime", "--threads", "2", "--threshold", "0")
MAX_SCORE_DIFF = 0.05  # about 12 steps of a uint8 probability output


def _val_images(data: Path) -> list[Path]:
    return [p for d in sorted((data / "val").iterdir()) for p in sorted(d.iterdir())[:IMAGES_PER_CLASS]]


def _scores(classes: list[tuple[int, float]], n: int) -> np.ndarray:
    out = np.zeros(n)
    for cid, score in classes:
        out[cid] = score
    return out


def _predict(python: Path, model: Path, images: list[Path], n: int) -> list[np.ndarray]:
    """Every class's probability per image, from ``edgesight predict`` in the other environment."""
    proc = subprocess.run(
        [python, "-m", "edge.cli", "predict", model, *images, "--json", "--top-k", str(n), *TFLRT_FLAGS],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line)["classes"] for line in proc.stdout.splitlines()]
    return [_scores([(c["id"], c["score"]) for c in row], n) for row in rows]


def test_every_mode_gives_the_same_scores_and_top1_on_tflite_runtime_2_14(trained, tflrt_python):
    """The same probabilities within a few quantization steps, hence the same top-1 wherever the best
    class leads by more than that. (The runtimes' int8 kernels round differently: XNNPACK here,
    reference kernels in 2.14; a near tie may then swap, and is allowed to.)"""
    images = _val_images(trained["data"])
    n = len(trained["info"].class_names)
    for mode, path in trained["models"].items():
        with edge.load(path, runtime="litert", top_k=n) as model:
            ours = [
                _scores(list(zip(r.ids.tolist(), r.scores.tolist())), n)
                for r in map(model, map(read_image, images))
            ]
        theirs = _predict(tflrt_python, path, images, n)
        assert len(theirs) == len(images), mode
        for image, a, b in zip(images, ours, theirs):
            assert np.abs(a - b).max() <= MAX_SCORE_DIFF, f"{mode} {image.name}: {a} vs {b}"
            margin = np.sort(a)[-1] - np.sort(a)[-2]
            if margin > MAX_SCORE_DIFF:
                assert a.argmax() == b.argmax(), f"{mode} {image.name}: {a} vs {b}"


def test_the_second_environment_really_is_tflite_runtime_2_14_with_numpy_1(tflrt_python):
    code = "import numpy, tflite_runtime; print(tflite_runtime.__version__, numpy.__version__)"
    proc = subprocess.run([tflrt_python, "-c", code], capture_output=True, text=True, check=True)
    out = proc.stdout.split()
    assert out[0].startswith("2.14.") and out[1].startswith("1.")
