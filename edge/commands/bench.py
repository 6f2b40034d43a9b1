"""``edgesight bench MODEL...``: latency, throughput and memory per interpreter, threads and XNNPACK;
the pipeline per stage; ``--compare`` of records from several devices."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.commands.options import add_contract_options, add_ssh_options, overrides, ssh_target
from edge.errors import EdgeError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bench",
        help="latency, throughput and memory of models on this device, per interpreter, threads and "
        "XNNPACK; the pipeline per stage; records to compare across devices",
    )
    p.add_argument("models", nargs="*", type=Path, metavar="MODEL", help=".tflite files")
    p.add_argument("--threads", default="2", help="thread counts to sweep, e.g. 1,2,4 (default 2)")
    p.add_argument(
        "--runtime",
        help="interpreters to sweep: litert, tflite-runtime, tf, comma-separated, or all installed "
        "(default: the first installed)",
    )
    p.add_argument(
        "--xnnpack",
        choices=("on", "off", "both"),
        default="on",
        help="with the XNNPACK delegate (on, the default), without it (off) or both",
    )
    p.add_argument(
        "--no-xnnpack", dest="xnnpack", action="store_const", const="off", help="same as --xnnpack off"
    )
    p.add_argument("--runs", type=int, default=100, help="timed runs per setting (default 100)")
    p.add_argument("--warmup", type=int, default=10, help="untimed runs after the first (default 10)")
    p.add_argument("--seconds", type=float, help="a time budget per setting instead of --runs")
    p.add_argument("--image", type=Path, help="feed this image (preprocessed as the model asks)")
    p.add_argument(
        "--source",
        help="feed frames of this source, and benchmark the pipeline on it per stage (same sources as run)",
    )
    p.add_argument(
        "--frames", type=int, help="frames of the pipeline benchmark (default: a file's all, 300 live)"
    )
    p.add_argument("--draw", action="store_true", help="pipeline benchmark: draw results on the frames")
    p.add_argument("--duration", help="sustained mode: run this long per setting, e.g. 10m, 90s")
    p.add_argument("--window", default="10s", help="sustained mode: throughput per window (default 10s)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the record as JSON")
    p.add_argument("--name", help="this record's name in comparisons (default: the host name)")
    p.add_argument("--compare", nargs="+", type=Path, metavar="JSON", help="compare records instead")
    p.add_argument(
        "--on",
        metavar="USER@HOST",
        help="run the benchmark on this device over ssh (set up as deploy does) and bring the record "
        "back (--json, default bench-HOST.json)",
    )
    p.add_argument("--plot", type=Path, metavar="OUT", help="with --compare: write OUT.png and OUT.html")
    add_contract_options(p)
    add_ssh_options(p.add_argument_group("with --on: the device, as edgesight deploy reaches it"))
    return p


FORWARDED = (
    "threads", "runtime", "xnnpack", "runs", "warmup", "seconds", "image", "source", "frames", "duration",
    "window", "name", "labels", "mean", "std", "task", "layout", "resize", "color",
)  # fmt: skip


def forwarded(args: argparse.Namespace) -> tuple[str, ...]:
    """The bench options as they would be typed on the device."""
    out: list[str] = []
    for name in FORWARDED:
        value = getattr(args, name)
        if value is not None:
            text = ",".join(f"{v:g}" for v in value) if isinstance(value, tuple) else str(value)
            out += [f"--{name}", text]
    return (*out, "--draw") if args.draw else tuple(out)


def on_device(args: argparse.Namespace) -> int:
    from edge.bench.remote import RemoteBench, bench_on

    if args.compare:
        raise EdgeError("--compare runs here: fetch the records with --on, then compare them")
    if not args.models:
        raise EdgeError("give one or more models to benchmark on the device")
    host = args.on.rsplit("@", 1)[-1]
    job = RemoteBench(
        target=ssh_target(args, args.on),
        models=tuple(args.models),
        bench_args=forwarded(args),
        json=args.json or Path(f"bench-{host}.json"),
        root=args.remote_dir or "~/edgesight",
        wheelhouse=args.wheelhouse,
        interpreter=args.interpreter,
    )
    return bench_on(job)


def handle(args: argparse.Namespace) -> int:
    if args.on:
        return on_device(args)
    if args.compare:
        return compare(args)
    if not args.models:
        raise EdgeError("give one or more models to benchmark, or --compare A.json B.json")
    if args.plot:
        raise EdgeError("--plot goes with --compare")
    from edge.bench import command, report
    from edge.bench.sustained import parse_duration

    plan = command.Plan(
        models=tuple(args.models),
        runtimes=command.parse_runtimes(args.runtime),
        threads=command.parse_threads(args.threads),
        xnnpack=command.XNNPACK_CHOICES[args.xnnpack],
        runs=args.runs,
        warmup=args.warmup,
        seconds=args.seconds,
        image=args.image,
        source=args.source,
        frames=args.frames,
        draw=args.draw,
        duration=parse_duration(args.duration) if args.duration else None,
        window=parse_duration(args.window),
        overrides=overrides(args),
        name=args.name,
    )
    if args.json:
        from edge.sinks.files import check_writable

        check_writable(args.json)
    record = command.run_plan(plan)
    print("\n".join(report.format_record(record)))
    if args.json:
        command.write_record(record, args.json)
        print(f"record written to {args.json}", file=sys.stderr)
    if record["interrupted"]:
        print("edgesight: interrupted (the results above are the settings that finished)", file=sys.stderr)
        return 130
    return 0


def compare(args: argparse.Namespace) -> int:
    from edge.bench import compare

    if args.models:
        raise EdgeError("--compare takes JSON records only; benchmark models in a separate run")
    if args.plot and not compare.has_matplotlib():
        raise EdgeError("--plot needs matplotlib: pip install matplotlib")
    records = [compare.load_record(path) for path in args.compare]
    rows = compare.compare_rows(records)
    print("\n".join(compare.format_compare(records, rows)))
    if args.plot:
        png, page = compare.write_plot(records, rows, args.plot)
        print(f"plot written to {png} and {page}", file=sys.stderr)
    return 0
