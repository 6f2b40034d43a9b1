"""Our int8 detector against SSD MobileNet v1 (the classic Raspberry Pi ``detect.tflite``), in one run.

Both are timed the same way (``edgesight bench``'s invoke timing, set-input + invoke + read-outputs),
each at its own input size, on the same interpreter and threads, alternating rounds; prints each
model's p50 and the ratio ours / SSD (below 1: ours is faster).

    python tools/detect_speed.py [RUN/models/model_int8.tflite] [--threads 2] [--rounds 5] [--runs 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testbed import SSD_MODEL  # noqa: E402

from edge.bench.latency import measure_invoke  # noqa: E402
from edge.model.runtime import Runtime  # noqa: E402

DEFAULT = ROOT / "runs" / "demo-detect" / "models" / "model_int8.tflite"


def p50(path: Path, threads: int, runs: int) -> tuple[float, str, tuple[int, ...]]:
    with Runtime(path.read_bytes(), threads=threads) as rt:
        latency = measure_invoke(rt, runs=runs, warmup=20)
        return latency.p50_ms, rt.label, rt.inputs[0].shape


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args(argv)
    for path in (args.model, SSD_MODEL):
        if not path.is_file():
            print(f"detect_speed: error: model not found: {path} (make demo-detect first)", file=sys.stderr)
            return 2
    ours, ssd = [], []
    for _ in range(args.rounds):  # alternating, so both see the same machine
        ms, label, ours_shape = p50(args.model, args.threads, args.runs)
        ours.append(ms)
        ms, _, ssd_shape = p50(SSD_MODEL, args.threads, args.runs)
        ssd.append(ms)
    a, b = statistics.median(ours), statistics.median(ssd)
    print(f"runtime: {label}; {args.rounds} alternating rounds of {args.runs} runs, median of the p50s")
    print(f"ours ({args.model.name}, input {list(ours_shape)}): p50 {a:.3f} ms")
    print(f"SSD MobileNet v1 quant (input {list(ssd_shape)}): p50 {b:.3f} ms")
    print(f"ours / SSD: {a / b:.3f}x ({'faster' if a < b else 'slower'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
