"""Every variant of an export, on every interpreter: size, top-1, p50 latency and cross-runtime agreement.

Reads EXPORT_DIR/export.json (written by ``edgesight export``), runs tools/variant_probe.py on each
model once per Python environment given with --python (each environment brings its own
interpreter: ai-edge-litert in .venv, tflite-runtime 2.14 in .venv-tflrt), and prints a markdown
table; the table and the raw numbers are also written to EXPORT_DIR/runtimes.md and runtimes.json.

    python tools/runtime_table.py runs/mnv2/models --python .venv/bin/python --python .venv-tflrt/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).with_name("variant_probe.py")


def probe(python: Path, model: Path, val: Path, threads: int, runs: int) -> dict:
    proc = subprocess.run(
        [str(python), str(PROBE), str(model), str(val), "--threads", str(threads), "--runs", str(runs)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": last}
    return json.loads(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir", type=Path)
    parser.add_argument("--python", type=Path, action="append", required=True, help="an environment's python")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    summary_path = args.export_dir / "export.json"
    if not summary_path.is_file():
        print(f"runtime_table: error: {summary_path} not found (run edgesight export first)", file=sys.stderr)
        return 2
    summary = json.loads(summary_path.read_text())
    val = Path(summary["validation"]["folder"])
    results: dict[str, list[dict]] = {}
    for mode, row in summary["variants"].items():
        model = args.export_dir / row["file"]
        results[mode] = [probe(py, model, val, args.threads, args.runs) for py in args.python]
        print(
            f"{mode}: " + ", ".join(r.get("runtime_label", r.get("error", "?")) for r in results[mode]),
            flush=True,
        )
    names = [
        next((r[i]["runtime_label"] for r in results.values() if "runtime_label" in r[i]), str(py))
        for i, py in enumerate(args.python)
    ]
    head = ["mode", "I/O", "size"]
    head += [f"top-1 {n.split(' ')[0]}" for n in names] + [f"p50 {n.split(' ')[0]}" for n in names]
    head += ["top-1 agreement across runtimes", "gate"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for mode, row in summary["variants"].items():
        rs = results[mode]
        cells = [mode, row["io"], f"{row['size_bytes'] / 1024:.0f} KiB"]
        cells += [f"{r['accuracy']:.2%}" if "accuracy" in r else "fails" for r in rs]
        cells += [f"{r['p50_ms']:.2f} ms" if "p50_ms" in r else "-" for r in rs]
        ok = [r for r in rs if "predictions" in r]
        if len(ok) == len(rs) and len(rs) > 1:
            base = ok[0]["predictions"]
            same = min(sum(a == b for a, b in zip(base, r["predictions"])) for r in ok[1:])
            cells.append(f"{same}/{len(base)}")
        else:
            cells.append("-")
        cells.append("ok" if row["accepted"] else f"refused: {row['reason']}")
        lines.append("| " + " | ".join(cells) + " |")
    note = (
        f"{summary['validation']['images']} validation images; invoke() p50 over {args.runs} runs, "
        f"{args.threads} threads; runtimes: {'; '.join(names)}."
    )
    table = "\n".join(lines) + "\n\n" + note + "\n"
    print()
    print(table)
    (args.export_dir / "runtimes.md").write_text(table)
    (args.export_dir / "runtimes.json").write_text(
        json.dumps({"runtimes": names, "results": results}, indent=1)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
