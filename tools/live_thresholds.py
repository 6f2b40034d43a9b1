"""A detector on the built-in camera's detection mode at several score thresholds: how many of the true
objects it finds (IoU >= 0.5, the right class) and what share of its detections found nothing.

The same frames and the same tally as the live run of ``make demo-detect``, one line per threshold
(the model's own, from its metadata, marked with *):

    python tools/live_thresholds.py runs/demo-detect/models/model_int8.tflite [--frames 300] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.errors import EdgeError  # noqa: E402
from edge.model.metadata import read_model_file  # noqa: E402
from edge.model.spec import score_threshold  # noqa: E402
from edge.pipeline.truth import ObjectTally  # noqa: E402
from edge.sources.scene import SceneSource  # noqa: E402
from edge.tasks.loader import load  # noqa: E402

THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1, help="the scene's seed (the demo's: its seed + 1)")
    args = parser.parse_args(argv)
    try:
        frames = list(SceneSource(frames=args.frames, seed=args.seed))
        own = score_threshold(read_model_file(args.model))
        print("threshold  found  false positives" + ("  (* the model's own threshold)" if own else ""))
        for threshold in sorted({*THRESHOLDS, *([own] if own else [])}):
            tally = ObjectTally()
            with load(args.model, threads=2, threshold=threshold) as task:
                for frame in frames:
                    tally.add(task(frame.image), frame.truth["objects"])
            found, wrong = tally.recall, tally.false_positive_share
            mark = " *" if threshold == own else ""
            print(f"{threshold:9.2f}  {found:5.1%}  {wrong:5.1%} of {tally.detections}{mark}")
    except EdgeError as exc:
        print(f"live_thresholds: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
