"""What bias correction does to a run's int8 export: the run exported twice in one go, int8 with and
without the correction (``edgesight export --no-bias-correction``), both scored through edge on the
run's validation images beside the float32 export, with the change against float32 in points.

    python tools/bias_correction.py runs/demo-detect/run     # a detector: mAP@[.5:.95] and mAP@.5
    python tools/bias_correction.py runs/demo                # a classifier: top-1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.errors import EdgeError  # noqa: E402


def _figures(result) -> dict:
    s = result.summary()
    if "mAP50_95" in s:
        return {"mAP@[.5:.95]": s["mAP50_95"], "mAP@.5": s["mAP50"]}
    return {"top-1": s["accuracy"]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder (edgesight train)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        from train.export.job import export
        from train.export.modes import MODES_BY_NAME
        from train.export.source import open_export_source

        source = open_export_source(args.run)
        rows = {}
        with tempfile.TemporaryDirectory(prefix="edgesight-bias-") as tmp:
            for name, modes, corrected in (
                ("float32", ["float32"], False),
                ("int8, corrected", ["int8"], True),
                ("int8, as trained", ["int8"], False),
            ):
                outcome = export(
                    source, [MODES_BY_NAME[m] for m in modes], Path(tmp) / name.replace(", ", "-"),
                    max_drop=100.0, threads=args.threads, bias_correction=corrected,
                )  # fmt: skip
                rows[name] = _figures(outcome.variants[0])
    except EdgeError as exc:
        print(f"bias_correction: error: {exc}", file=sys.stderr)
        return 2
    keys = list(rows["float32"])
    print(f"\n{args.run}: " + ", ".join(keys) + " through edge; in brackets, points against float32")
    for name, figures in rows.items():
        cells = []
        for key in keys:
            change = (figures[key] - rows["float32"][key]) * 100
            cells.append(f"{key} {figures[key]:.4f}" + ("" if name == "float32" else f" ({change:+.2f})"))
        print(f"{name:17s} " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
