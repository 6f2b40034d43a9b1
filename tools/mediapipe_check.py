"""Show that MediaPipe Tasks reads our standard TFLite metadata: its ImageClassifier, given only the
.tflite file, must name the same top-1 class as ``edgesight predict`` on the validation images.

Creates its own virtual environment with ``mediapipe`` (default .venv-mediapipe) on first use; runs
``edgesight predict`` from the environment it is started in. MediaPipe accepts uint8 or float32
inputs only: use the ``int8`` (uint8 I/O) or a float export. MediaPipe resamples images to the
model's input with its own method; a model trained on edge's resize can disagree on borderline images
when the images are much larger than its input (on the demo's model: 995/1000 and 996/1000 agree
in two runs).

    python tools/mediapipe_check.py runs/demo/models/model_int8.tflite runs/demo/data/val
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIN_AGREEMENT = 0.99
CHILD = """
import json, sys
import mediapipe as mp
from mediapipe.tasks import python as mp_python
from mediapipe.tasks.python import vision

model, paths = sys.argv[1], json.load(sys.stdin)
options = vision.ImageClassifierOptions(
    base_options=mp_python.BaseOptions(model_asset_path=model), max_results=1
)
out = []
with vision.ImageClassifier.create_from_options(options) as classifier:
    for path in paths:
        top = classifier.classify(mp.Image.create_from_file(path)).classifications[0].categories[0]
        out.append([top.index, top.category_name, top.score])
print(json.dumps({"mediapipe": mp.__version__, "results": out}))
"""


def ensure_venv(path: Path) -> Path:
    python = path / "bin" / "python"
    if not python.is_file():
        print(f"creating {path} with mediapipe (once)", flush=True)
        venv.create(path, with_pip=True)
        uv = shutil.which("uv", path=str(Path(sys.executable).parent))  # make venvs installs it
        install = (
            [uv, "pip", "install", "--compile-bytecode", "--python", python]
            if uv
            else [python, "-m", "pip", "install"]
        )
        subprocess.run([*install, "--quiet", "mediapipe>=0.10.14"], check=True)
    return python


def images_of(folder: Path) -> list[Path]:
    sys.path.insert(0, str(ROOT))
    from edge.sources.images import scan_image_folder

    return list(scan_image_folder(folder).paths)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a .tflite with uint8 or float32 input (our int8 export)")
    parser.add_argument("val", type=Path, help="validation images, one subfolder per class")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-mediapipe")
    parser.add_argument("--min-agreement", type=float, default=MIN_AGREEMENT, help="pass mark (default 0.99)")
    args = parser.parse_args()
    if not args.model.is_file():
        print(f"mediapipe_check: error: model not found: {args.model}", file=sys.stderr)
        return 2
    paths = [str(p) for p in images_of(args.val)]
    python = ensure_venv(args.venv)
    child = subprocess.run(
        [python, "-c", CHILD, str(args.model)], input=json.dumps(paths), capture_output=True, text=True
    )
    if child.returncode != 0:
        print(
            f"mediapipe_check: error: MediaPipe failed: {child.stderr.strip().splitlines()[-1]}",
            file=sys.stderr,
        )
        return 1
    mp_out = json.loads(child.stdout.strip().splitlines()[-1])
    ours = subprocess.run(
        [sys.executable, "-m", "edge.cli", "predict", str(args.model), *paths, "--json", "--top-k", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if ours.returncode != 0:
        print(f"mediapipe_check: error: edgesight predict failed: {ours.stderr.strip()}", file=sys.stderr)
        return 1
    es = [json.loads(line)["classes"][0] for line in ours.stdout.splitlines()]
    same_id = same_label = 0
    differ = []
    for path, (index, name, score), top in zip(paths, mp_out["results"], es):
        same_id += index == top["id"]
        same_label += name == top["label"]
        if index != top["id"]:
            differ.append(
                f"  {path}: mediapipe {name} {score:.3f}, edgesight {top['label']} {top['score']:.3f}"
            )
    n = len(paths)
    print(f"model {args.model} on {n} images of {args.val}")
    print(f"MediaPipe Tasks ImageClassifier (mediapipe {mp_out['mediapipe']}) vs edgesight predict:")
    print(
        f"  top-1 agreement {same_id}/{n} = {same_id / n:.2%} "
        f"(labels read from the model: {same_label}/{n} match)"
    )
    print("\n".join(differ[:10]))
    ok = same_id / n >= args.min_agreement and same_label == same_id
    print(f"verdict: {'PASS' if ok else 'FAIL'} (need at least {args.min_agreement:.0%})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
