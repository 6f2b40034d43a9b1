"""Is ``edgesight bench`` honest? Its invoke p50 against a bare interpreter loop on the same model,
in the same run, on the same interpreter module, threads and input.

The bare loop is what a user would write: ``set_tensor``, ``invoke``, ``get_tensor`` for each output,
timed with ``perf_counter``. Ours is ``edge.bench.invoke.bench_invoke``, what each setting of
``edgesight bench`` runs in its worker process. The two alternate for ``--rounds`` rounds, each loading
the model afresh, and the runs are pooled per side. Target (issue 6): ours / bare p50 within 5%.

    python tools/bench_honesty.py [MODEL ...] [--threads 2] [--runs 300] [--rounds 5] [--runtime NAME]

With no model: the demo's models in runs/demo/models when they exist, and the SSD asset model.
Exit 0 whatever it measures, 1 with --check when a model is outside 5%, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testbed import SSD_MODEL as SSD  # noqa: E402

from edge.bench.invoke import Setting, bench_invoke  # noqa: E402
from edge.bench.latency import random_inputs  # noqa: E402
from edge.errors import EdgeError  # noqa: E402
from edge.model.runtime import Runtime, import_runtime, installed_runtimes  # noqa: E402

TOLERANCE = 0.05


def bare_loop(
    module, path: Path, threads: int, inputs: list[np.ndarray], runs: int, warmup: int
) -> np.ndarray:
    """Seconds per run of set_tensor / invoke / get_tensor, straight on the interpreter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = module.Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    ins = [d["index"] for d in interpreter.get_input_details()]
    outs = [d["index"] for d in interpreter.get_output_details()]

    def once() -> None:
        for index, array in zip(ins, inputs):
            interpreter.set_tensor(index, array)
        interpreter.invoke()
        for index in outs:
            interpreter.get_tensor(index)

    for _ in range(warmup + 1):
        once()
    samples = np.empty(runs)
    for i in range(runs):
        t = time.perf_counter()
        once()
        samples[i] = time.perf_counter() - t
    return samples


def compare(path: Path, runtime: str, threads: int, runs: int, rounds: int, warmup: int) -> dict:
    """Alternating rounds of the bare loop and ours; pooled p50s and their ratio."""
    _, module, version = import_runtime(runtime)
    with Runtime(path.read_bytes(), threads=threads, runtime=runtime) as rt:
        inputs = random_inputs(rt)
    bare, ours = [], []
    setting = Setting(runtime, threads, True)
    for _ in range(rounds):
        bare.append(bare_loop(module, path, threads, inputs, runs, warmup))
        result = bench_invoke(path, setting, [inputs], runs=runs, warmup=warmup)
        ours.append(result.samples)
    bare_p50 = float(np.percentile(np.concatenate(bare), 50)) * 1e3
    ours_p50 = float(np.percentile(np.concatenate(ours), 50)) * 1e3
    return {
        "model": path.name,
        "runtime": f"{runtime} {version}",
        "threads": threads,
        "runs": runs * rounds,
        "bare_p50_ms": round(bare_p50, 4),
        "ours_p50_ms": round(ours_p50, 4),
        "ratio": round(ours_p50 / bare_p50, 4),
    }


def default_models() -> list[Path]:
    demo = sorted((ROOT / "runs/demo/models").glob("*.tflite"))
    return [*demo, SSD] if SSD.is_file() else demo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=300, help="timed runs per round and side")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per side")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--runtime", help="interpreter (default: the first installed)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a ratio is outside 5%%")
    args = parser.parse_args()
    models = args.models or default_models()
    try:
        if not models:
            raise EdgeError("no models given, and neither runs/demo/models nor the SSD asset exists")
        if min(args.threads, args.runs, args.rounds) < 1 or args.warmup < 0:
            raise EdgeError("--threads, --runs and --rounds must be 1 or more, --warmup 0 or more")
        for path in models:
            if not path.is_file():
                raise EdgeError(f"model not found: {path}")
        runtime = args.runtime or (installed_runtimes() or [None])[0]
        if runtime is None:
            raise EdgeError("no TFLite interpreter installed")
        rows = [compare(p, runtime, args.threads, args.runs, args.rounds, args.warmup) for p in models]
    except EdgeError as exc:
        print(f"bench_honesty: error: {exc}", file=sys.stderr)
        return 2
    print(f"ours (edgesight bench) / bare interpreter loop, p50 of {args.runs * args.rounds} runs per side:")
    ok = True
    for r in rows:
        within = abs(r["ratio"] - 1) <= TOLERANCE
        ok &= within
        print(
            f"  {r['model']}: {r['ours_p50_ms']:.4f} / {r['bare_p50_ms']:.4f} ms = {r['ratio']:.3f} "
            f"({r['runtime']}, {r['threads']} threads) {'within' if within else 'OUTSIDE'} 5%"
        )
    print(f"verdict: {'every model within 5%' if ok else 'a model is outside 5%'}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
