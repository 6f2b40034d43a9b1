"""``edgesight export RUN|MODEL.keras|SAVEDMODEL``: a ``.tflite`` per quantization mode, each checked
on the edge runtime and gated on accuracy, with the report beside them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.commands.options import floats
from train.commands import needs_tensorflow


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "export",
        help="convert a trained run, .keras or SavedModel to .tflite in each quantization mode, "
        "check every variant and gate on accuracy",
    )
    p.add_argument("model", type=Path, help="run folder (edgesight train), .keras file or SavedModel folder")
    p.add_argument(
        "--quant",
        default="float32,int8",
        help="comma-separated modes of the export table (float32, float16, dynamic, int8, ...) or 'all' "
        "(default float32,int8; README lists every mode)",
    )
    p.add_argument("--out", type=Path, help="output folder (default RUN/models or NAME-tflite)")
    p.add_argument("--val", type=Path, help="labelled images (class subfolders) to check variants on")
    p.add_argument("--calib", type=Path, help="images to calibrate int8/int16x8 modes with (any layout)")
    p.add_argument("--calib-samples", type=int, default=200, help="calibration images (default 200)")
    p.add_argument(
        "--no-bias-correction",
        action="store_true",
        help="convert the int8 modes from the weights as trained (default: 3x3 depthwise kernels' "
        "rounding chosen and batch norm offsets corrected for the rounding of int8 kernels)",
    )
    p.add_argument("--labels", type=Path, help="labels file for a .keras/SavedModel (default: --val folders)")
    p.add_argument("--mean", type=floats, help="input normalisation mean of a .keras/SavedModel")
    p.add_argument("--std", type=floats, help="input normalisation std of a .keras/SavedModel")
    p.add_argument(
        "--max-drop",
        type=float,
        default=1.0,
        help="refuse a variant losing more top-1 points than this against float (default 1.0)",
    )
    p.add_argument("--threads", type=int, default=2, help="interpreter threads for the latency check")
    p.add_argument(
        "--boxes-in-graph",
        action="store_true",
        help="detectors: decode the boxes inside the model (boxes [1, N, 4], normalised xmin, ymin, xmax, "
        "ymax) for apps that read them from the .tflite; default: distances that edge decodes, which "
        "lose less in int8 (README)",
    )
    return p


def default_out(model: Path) -> Path:
    """RUN/models for a run folder; NAME-tflite beside a .keras file or SavedModel."""
    model = Path(model)
    if model.is_dir() and (model / "run.json").is_file():
        return model / "models"
    return model.with_name(f"{model.stem if model.is_file() else model.name}-tflite")


def _handle(args: argparse.Namespace) -> int:
    from train.export.job import check_options, export
    from train.export.modes import parse_modes
    from train.export.source import open_export_source

    modes = parse_modes(args.quant)  # flags first: a typo fails before TensorFlow loads
    check_options(args.calib_samples, args.max_drop, args.threads)
    source = open_export_source(args.model, args.labels, args.mean, args.std, args.val, args.calib)
    from edge.util.tables import text_table
    from train.report import table_rows

    out = args.out or default_out(args.model)
    outcome = export(
        source, modes, out, args.calib_samples, args.max_drop, args.threads,
        bias_correction=not args.no_bias_correction, boxes_in_graph=args.boxes_in_graph,
    )  # fmt: skip
    verdicts = {v.variant: v for v in outcome.verdicts}
    print()
    print(text_table(table_rows([outcome.reference, *outcome.variants], verdicts)))
    print(f"\nreport: {out / 'report.md'}, {out / 'report.html'}, {out / 'export.json'}")
    for v in outcome.refused:
        print(f"edgesight: refused {v.variant}: {v.reason}", file=sys.stderr)
    return 1 if outcome.refused else 0


handle = needs_tensorflow("export", _handle)
