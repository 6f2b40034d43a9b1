"""Evaluate one .tflite through edge in *this* Python environment and print one JSON object.

Used by runtime_table.py to run the same model on several interpreters (each environment has its
own: ai-edge-litert in .venv, tflite-runtime 2.14 in .venv-tflrt). Edge-only: no TensorFlow.

    python tools/variant_probe.py MODEL VAL_DIR [--runtime NAME] [--threads N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.bench import measure_invoke
from edge.errors import EdgeError
from edge.evaluate.classify import evaluate_classifier
from edge.sources.images import scan_image_folder
from edge.tasks.loader import load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("val", type=Path, help="labelled images, one subfolder per class")
    parser.add_argument("--runtime", help="force one interpreter (default: the first available)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=100, help="timed invoke() runs")
    args = parser.parse_args()
    try:
        folder = scan_image_folder(args.val)
        with load(args.model, threads=args.threads, runtime=args.runtime) as task:
            evaluation = evaluate_classifier(task, folder)
            latency = measure_invoke(task.runtime, runs=args.runs, warmup=10)
            label = task.runtime.label
    except EdgeError as exc:
        print(f"variant_probe: error: {exc}", file=sys.stderr)
        return 2
    result = {
        "model": str(args.model),
        "runtime": latency.runtime,
        "runtime_label": label,
        "threads": latency.threads,
        "images": evaluation.count,
        "accuracy": evaluation.accuracy,
        "predictions": evaluation.predictions.tolist(),
        "p50_ms": latency.p50_ms,
        "p90_ms": latency.p90_ms,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
