"""Handlers of the training verbs of ``edgesight`` (the parser lives in ``edge.cli``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_train(args: argparse.Namespace) -> int:
    from train.data import generate_shapes
    from train.fit import train

    data = Path(args.data)
    if args.data == "shapes":
        data = generate_shapes(args.out / "data", per_class=args.images_per_class, seed=args.seed)
    info = train(
        data,
        args.out,
        epochs=args.epochs,
        size=args.size,
        model_name=args.model,
        batch_size=args.batch_size,
        val_split=args.val_split,
        seed=args.seed,
    )
    print(
        f"validation accuracy {info.val_accuracy:.2%}; run folder {args.out}\n"
        f"next: edgesight export {args.out}"
    )
    return 0


def default_out(model: Path) -> Path:
    """RUN/models for a run folder; NAME-tflite beside a .keras file or SavedModel."""
    model = Path(model)
    if model.is_dir() and (model / "run.json").is_file():
        return model / "models"
    return model.with_name(f"{model.stem if model.is_file() else model.name}-tflite")


def cmd_export(args: argparse.Namespace) -> int:
    from train.export import parse_modes
    from train.export_job import check_options, export
    from train.export_source import open_export_source

    modes = parse_modes(args.quant)  # flags first: a typo fails before TensorFlow loads
    check_options(args.calib_samples, args.max_drop, args.threads)
    source = open_export_source(args.model, args.labels, args.mean, args.std, args.val, args.calib)
    from edge.tables import text_table
    from train.report import table_rows

    out = args.out or default_out(args.model)
    outcome = export(source, modes, out, args.calib_samples, args.max_drop, args.threads)
    verdicts = {v.variant: v for v in outcome.verdicts}
    print()
    print(text_table(table_rows([outcome.reference, *outcome.variants], verdicts)))
    print(f"\nreport: {out / 'report.md'}, {out / 'report.html'}, {out / 'export.json'}")
    for v in outcome.refused:
        print(f"edgesight: refused {v.variant}: {v.reason}", file=sys.stderr)
    return 1 if outcome.refused else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from train.demo import run_demo

    summary = run_demo(
        args.out,
        epochs=args.epochs,
        size=args.size,
        images_per_class=args.images_per_class,
        frames=args.frames,
        seed=args.seed,
    )
    missed = [k for k, ok in summary["targets"].items() if not ok]
    if missed:
        print(f"targets missed: {', '.join(missed)}")
        return 1
    return 0
