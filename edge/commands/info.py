"""``edgesight info MODEL``: what a ``.tflite`` is and how edge will run it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.commands.options import add_contract_options, add_runtime_options, overrides


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "info", help="inputs, outputs, quantization, task and layout, labels, metadata and ops of a .tflite"
    )
    p.add_argument("model", type=Path)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_runtime_options(p)
    add_contract_options(p)
    return p


def handle(args: argparse.Namespace) -> int:
    from edge.model.info import describe, format_info

    info = describe(args.model, threads=args.threads, runtime=args.runtime, overrides=overrides(args))
    if args.json:
        print(json.dumps(info))
    else:
        print("\n".join(format_info(info)))
    return 2 if info["error"] else 0
