"""Rule 1 of the design: the device half never imports TensorFlow."""

import os
import pkgutil
import subprocess
import sys

import pytest

import edge
from tests.conftest import ROOT


def test_importing_every_edge_module_leaves_tensorflow_out():
    names = [m.name for m in pkgutil.walk_packages(edge.__path__, "edge.")]
    assert "edge.model.runtime" in names and "edge.cli" in names
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "heavy = ('tensorflow', 'keras')\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "print(','.join(leaked))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == ""


def test_loading_and_running_a_model_leaves_tensorflow_out(trained):
    code = (
        "import sys, numpy as np, edge\n"
        f"with edge.load({str(trained['models']['int8'])!r}) as m:\n"
        "    r = m(np.zeros((48, 64, 3), np.uint8))\n"
        "print(len(r), 'tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["5", "False"]


def test_the_interpreter_loaded_is_the_one_this_environment_is_for(assets):
    """make test runs the edge tests twice: ai-edge-litert here, tflite-runtime 2.14 in .venv-tflrt."""
    expected = os.environ.get("EDGESIGHT_EXPECT_RUNTIME")
    if not expected:
        pytest.skip("EDGESIGHT_EXPECT_RUNTIME not set (make test sets it for each environment)")
    import edge

    with edge.load(assets / "models/classification/mobilenet_v1_0.25_224_quant.tflite") as model:
        assert model.runtime.name == expected


def test_help_imports_neither_numpy_nor_tensorflow():
    """``edgesight --help`` and every ``edgesight VERB --help`` build the parser only."""
    from edge.cli import EDGE_VERBS, TRAIN_VERBS

    code = (
        "import sys, contextlib, io\n"
        "from edge.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(sys.argv[1:])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('numpy', 'cv2', 'tensorflow', 'keras')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy)) or 'none')\n"
    )
    for argv in (["--help"], *([verb, "--help"] for verb in (*TRAIN_VERBS, *EDGE_VERBS))):
        out = subprocess.run(
            [sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT, check=True
        )
        assert out.stdout.strip() == "none", (argv, out.stdout)
