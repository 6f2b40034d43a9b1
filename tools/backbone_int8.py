"""Which backbones keep their accuracy in full-integer int8: each trained on the same built-in data
with the same settings, exported to float32 and int8, and every file scored through edge on the same
validation images.

    python tools/backbone_int8.py [--out runs/backbones] [--epochs 40] [--size 64] [--per-class 300]
                                  [--models mobilenet_v1:0.25,mobilenet_v3_small ...]

Trained from scratch (``--weights none``): only MobileNet v1 0.25 has ImageNet weights here, and a
table that mixes pretrained and scratch rows would compare the weights, not the architectures. The
int8 drop is against the float32 file of the same run. Prints a Markdown table, one row as each
backbone finishes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = (
    "mobilenet_v1:0.25",
    "mobilenet_v2:0.35",
    "mobilenet_v3_small:0.75",
    "mobilenet_v3_small_minimalistic:1.0",
    "mobilenet_v3_large:0.75",
    "mobilenet_v3_large_minimalistic:1.0",
)


def cli(*argv: object) -> None:
    command = [sys.executable, "-m", "edge.cli", *map(str, argv)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode not in (0, 1):  # export exits 1 when its gate refuses a variant: still scored
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:]
        raise SystemExit(f"backbone_int8: {' '.join(command[3:5])} failed: {tail}")


def row(run: Path, model: str, alpha: str) -> str:
    report = json.loads((run / "models" / "export.json").read_text())
    keras, variants = report["keras"], report["variants"]
    f32, i8 = variants["float32"], variants["int8"]
    change = 100 * (i8["accuracy"] - f32["accuracy"])
    return (
        f"| {model} | {alpha} | {keras['accuracy']:.1%} | {f32['accuracy']:.1%} | {i8['accuracy']:.1%} | "
        f"{change:+.1f} | {i8['agreement_with_keras']:.1%} | {f32['latency_p50_ms']:.2f} ms | "
        f"{i8['latency_p50_ms']:.2f} ms | {i8['size_bytes'] / 1024:.0f} KiB |"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "backbones")
    parser.add_argument("--epochs", type=int, default=40)  # 12 at 96 px left MobileNet v1 0.25 at 26.2%
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--models", default=",".join(ROWS), help="comma-separated MODEL:ALPHA")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from train.data.shapes import generate_shapes

    data = generate_shapes(args.out / "data", per_class=args.per_class, val_per_class=100, seed=5)
    print(f"built-in shapes, {args.per_class} training and 100 validation images per class, {args.size} px, "
          f"{args.epochs} epochs from scratch, batch 32; int8 = full-integer, uint8 input")  # fmt: skip
    print("| backbone | alpha | Keras | float32 | int8 | int8 - float32 (points) | int8 agrees with Keras "
          "| p50 float32 | p50 int8 | int8 size |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for entry in args.models.split(","):
        model, alpha = entry.split(":")
        run = args.out / f"{model}-{alpha}"
        if not (run / "models" / "export.json").is_file():
            cli("train", data, "--out", run, "--model", model, "--alpha", alpha, "--weights", "none",
                "--size", args.size, "--epochs", args.epochs, "--batch-size", "32")  # fmt: skip
            cli("export", run, "--quant", "float32,int8", "--max-drop", "100")
        print(row(run, model, alpha), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
