"""The ``edgesight`` command. Device verbs (predict, eval, run) never import TensorFlow; the training
verbs (train, export, demo) load ``train`` lazily and say how to install it when it is missing."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from edge.errors import EdgeError

TRAIN_VERBS = ("demo", "train", "export")
RUNTIME_NAMES = ("litert", "tflite-runtime", "tf")  # edge.runtime.RUNTIMES, without importing numpy


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def _spec_options(p: argparse.ArgumentParser) -> None:
    """The interpreter flags, and the flags that supply or replace what a model says about itself."""
    p.add_argument("--threads", type=int, default=2, help="interpreter threads (default 2)")
    p.add_argument("--runtime", choices=RUNTIME_NAMES, help="force one interpreter")
    _contract_options(p)


def _contract_options(p: argparse.ArgumentParser) -> None:
    """Flags that supply or replace what a model says about itself."""
    p.add_argument("--labels", type=Path, help="labels file, one per line (for models without metadata)")
    p.add_argument("--mean", type=_floats, help="input normalisation mean, e.g. 127.5 or 123.7,116.3,103.5")
    p.add_argument("--std", type=_floats, help="input normalisation std, e.g. 127.5")
    p.add_argument("--task", choices=("classify", "detect"), help="the model's task, when it cannot be told")
    p.add_argument(
        "--layout",
        choices=("class_scores", "ssd", "yolov8", "yolov5"),
        help="the model's output layout, when it cannot be told (yolov8 also covers YOLO11)",
    )
    p.add_argument("--resize", choices=("stretch", "letterbox", "crop"), help="override the resize mode")
    p.add_argument("--color", choices=("RGB", "BGR"), help="override the input colour order")


def _model_options(p: argparse.ArgumentParser) -> None:
    _spec_options(p)
    p.add_argument(
        "--top-k", type=int, help="classes to report (default 5), or most detections (default 100)"
    )
    p.add_argument(
        "--threshold", type=float, help="lowest score to report (default 0 for classes, 0.25 for detections)"
    )
    p.add_argument("--iou", type=float, default=0.45, help="NMS IoU threshold of YOLO models (default 0.45)")


def _overrides(args: argparse.Namespace):
    from edge.spec import Overrides

    return Overrides(
        task=args.task,
        layout=args.layout,
        labels=args.labels,
        mean=args.mean,
        std=args.std,
        resize=args.resize,
        color=args.color,
    )


def _load(args: argparse.Namespace):
    from edge.tasks import load

    return load(
        args.model,
        threads=args.threads,
        runtime=args.runtime,
        overrides=_overrides(args),
        top_k=args.top_k,
        threshold=args.threshold,
        iou=args.iou,
    )


def _print_result(path: Path, result) -> None:
    from edge.results import Classes

    print(f"{path}:")
    if isinstance(result, Classes):
        for cid, label, score in zip(result.ids, result.labels, result.scores):
            print(f"  {score:6.3f}  {label if label is not None else '-'}  (id {cid})")
        return
    if not len(result):
        print("  no detections")
    for box, cid, label, score in zip(result.xyxy, result.class_ids, result.labels, result.scores):
        corners = ", ".join(f"{v:.0f}" for v in box)
        print(f"  {score:6.3f}  {label if label is not None else '-'}  (id {cid})  [{corners}]")


def cmd_predict(args: argparse.Namespace) -> int:
    from edge.imagefolder import read_image
    from edge.results import record

    with _load(args) as task:
        for path in args.images:
            if not path.is_file():  # every path checked before the first result
                raise EdgeError(f"image not found: {path}")
        for path in args.images:
            result = task(read_image(path))
            if args.json:
                print(json.dumps(record(result, image=str(path))))
            else:
                _print_result(path, result)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from edge.info import describe, format_info

    info = describe(args.model, threads=args.threads, runtime=args.runtime, overrides=_overrides(args))
    if args.json:
        print(json.dumps(info))
    else:
        print("\n".join(format_info(info)))
    return 2 if info["error"] else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from edge.evaluate import evaluate_classifier
    from edge.imagefolder import scan_image_folder

    folder = scan_image_folder(args.data)
    with _load(args) as task:
        ev = evaluate_classifier(task, folder)
        runtime = task.runtime.label
    if args.json:
        print(
            json.dumps(
                {
                    "model": str(args.model),
                    "images": ev.count,
                    "accuracy": ev.accuracy,
                    "per_class": ev.per_class(),
                    "runtime": runtime,
                }
            )
        )
        return 0
    print(f"{args.model}: top-1 accuracy {ev.accuracy:.2%} on {ev.count} images ({runtime})")
    for name, acc in ev.per_class().items():
        print(f"  {name:20s} {acc:.2%}")
    return 0


def _sinks(args: argparse.Namespace, stack: contextlib.ExitStack, stats, title: str) -> list:
    """The outputs the flags ask for, each closed by ``stack`` whatever ends the run."""
    from edge.sinks import JsonlSink, StatsPrinter, VideoSink

    sinks = []
    if args.save:
        sinks.append(stack.enter_context(VideoSink(args.save, fps=args.fps or 30.0)))
    if args.jsonl:
        sinks.append(stack.enter_context(JsonlSink(args.jsonl)))
    if args.show:
        from edge.sinks.window import WindowSink

        sinks.append(stack.enter_context(WindowSink(title)))
    if args.serve:
        from edge.sinks.web import WebSink

        web = stack.enter_context(
            WebSink(args.serve, stats, token=args.token, insecure=args.insecure, title=title)
        )
        print(f"edgesight: serving {web.url} (stream, /metrics, /healthz)", file=sys.stderr, flush=True)
        sinks.append(web)
    if args.mqtt:
        from edge.sinks.mqtt import MqttSink, parse_every

        sinks.append(stack.enter_context(MqttSink(args.mqtt, every=parse_every(args.mqtt_every))))
    if args.stats:
        sinks.append(StatsPrinter(stats))
    return sinks


def cmd_run(args: argparse.Namespace) -> int:
    from edge.pipeline import run
    from edge.sources import open_source
    from edge.stats import LiveStats

    stats = LiveStats()
    with contextlib.ExitStack() as stack:  # every output is closed, whatever ends the run
        sinks = _sinks(args, stack, stats, title=args.model.name)
        task = stack.enter_context(_load(args))
        source = stack.enter_context(
            open_source(
                args.source,
                frames=args.frames,
                seed=args.seed,
                realtime=args.realtime,
                width=args.width,
                height=args.height,
                fps=args.fps,
            )
        )
        summary = run(task, source, sinks, mode=args.mode, max_fps=args.max_fps, stats=stats)
        label = task.runtime.label
    out = sys.stderr if args.jsonl == "-" else sys.stdout
    print(f"{args.model} on {args.source} ({label})", file=out)
    for line in summary.lines():
        print(line, file=out)
    if summary.interrupted:
        print("edgesight: interrupted", file=sys.stderr)
        return 130
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from edge.bench import command, report

    if args.compare:
        return _compare(args)
    if not args.models:
        raise EdgeError("give one or more models to benchmark, or --compare A.json B.json")
    if args.plot:
        raise EdgeError("--plot goes with --compare")
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
        overrides=_overrides(args),
        name=args.name,
    )
    record = command.run_plan(plan)
    print("\n".join(report.format_record(record)))
    if args.json:
        command.write_record(record, args.json)
        print(f"record written to {args.json}", file=sys.stderr)
    if record["interrupted"]:
        print("edgesight: interrupted (the results above are the settings that finished)", file=sys.stderr)
        return 130
    return 0


def _compare(args: argparse.Namespace) -> int:
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


def cmd_deploy(args: argparse.Namespace) -> int:
    from edge.deploy import command
    from edge.deploy.ssh import Target

    actions = [a for a in ("status", "logs", "rollback", "stop") if getattr(args, a)]
    if len(actions) > 1:
        raise EdgeError(f"give one of --status, --logs, --rollback, --stop, not {' and '.join(actions)}")
    if actions and (args.model or args.run_args):
        raise EdgeError(f"--{actions[0]} takes no model or run options")
    if args.health_timeout <= 0:
        raise EdgeError(f"--health-timeout must be above 0, got {args.health_timeout}")
    opts = command.Options(
        target=Target(
            args.destination,
            port=args.port,
            identity=args.identity,
            config=args.ssh_config,
            options=tuple(args.ssh_option or ()),
        ),
        root=args.remote_dir or f"~/{args.name}",
        name=args.name,
        model=args.model,
        run_args=tuple(args.run_args),
        service=args.service,
        wheelhouse=args.wheelhouse,
        interpreter=args.interpreter,
        health_timeout=args.health_timeout,
        dry_run=args.dry_run,
    )
    if args.status:
        return command.status(opts)
    if args.logs:
        return command.logs(opts, lines=args.lines)
    if args.rollback:
        return command.rollback(opts)
    if args.stop:
        return command.stop_service(opts)
    if args.model is None:
        raise EdgeError("give --model M.tflite (or --status, --logs, --rollback, --stop)")
    return command.deploy(opts)


def _train_handler(name: str) -> Callable[[argparse.Namespace], int]:
    missing = EdgeError(
        f"'edgesight {name}' needs TensorFlow, which is not installed here: "
        "pip install 'edgesight[train]' (on the desktop; devices only need 'edgesight[edge]')"
    )

    def handler(args: argparse.Namespace) -> int:
        if importlib.util.find_spec("tensorflow") is None:
            raise missing
        try:
            from train import cli as train_cli

            return getattr(train_cli, f"cmd_{name}")(args)
        except ImportError as exc:  # found but unusable (a broken or partial install)
            if (exc.name or "").split(".")[0] in ("tensorflow", "keras"):
                raise missing from exc
            raise

    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgesight", description="Train an image model on the desktop, run it on a Raspberry Pi camera."
    )
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = sub.add_parser(
        "demo", help="the whole job on built-in data: data, train, export, eval, live run, report"
    )
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="run folder (default runs/demo)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--size", type=int, default=64, help="model input size in pixels (default 64)")
    p.add_argument("--images-per-class", type=int, default=800, help="training images per class")
    p.add_argument("--frames", type=int, default=300, help="frames of the live synthetic run")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_train_handler("demo"))

    p = sub.add_parser("train", help="train a classifier on an image folder or the built-in shapes")
    p.add_argument(
        "data",
        help="image folder (one subfolder per class; train/ and val/ inside are used as the "
        "split) or 'shapes' for the built-in dataset",
    )
    p.add_argument("--out", type=Path, required=True, help="run folder to write")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--size", type=int, default=64, help="model input size in pixels (default 64)")
    p.add_argument("--model", default="small_cnn", help="small_cnn (default) or mobilenet_v2")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--val-split", type=float, default=0.2, help="validation share when the folder has no val/"
    )
    p.add_argument(
        "--images-per-class", type=int, default=800, help="with 'shapes': training images per class"
    )
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_train_handler("train"))

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
    p.add_argument("--labels", type=Path, help="labels file for a .keras/SavedModel (default: --val folders)")
    p.add_argument("--mean", type=_floats, help="input normalisation mean of a .keras/SavedModel")
    p.add_argument("--std", type=_floats, help="input normalisation std of a .keras/SavedModel")
    p.add_argument(
        "--max-drop",
        type=float,
        default=1.0,
        help="refuse a variant losing more top-1 points than this against float (default 1.0)",
    )
    p.add_argument("--threads", type=int, default=2, help="interpreter threads for the latency check")
    p.set_defaults(func=_train_handler("export"))

    p = sub.add_parser("eval", help="top-1 accuracy of a .tflite on an image folder")
    p.add_argument("model", type=Path)
    p.add_argument("data", type=Path, help="image folder, one subfolder per class")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _model_options(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "info", help="inputs, outputs, quantization, task and layout, labels, metadata and ops of a .tflite"
    )
    p.add_argument("model", type=Path)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _spec_options(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("predict", help="classify or detect objects in images with a .tflite")
    p.add_argument("model", type=Path)
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    _model_options(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("run", help="run a .tflite on a camera, video, stream, folder or the synthetic source")
    p.add_argument("model", type=Path)
    p.add_argument(
        "--source",
        required=True,
        help="synthetic, picamera, a camera index (0), a video file, an image folder or glob, an "
        "RTSP/HTTP/MJPEG URL, or a GStreamer pipeline",
    )
    p.add_argument(
        "--mode",
        choices=("latest", "every"),
        help="latest: keep only the newest frame (default for cameras and streams); every: process "
        "every frame (default for files and folders)",
    )
    p.add_argument("--max-fps", type=float, help="cap the inference rate")
    p.add_argument("--width", type=int, help="capture width, where the source supports it")
    p.add_argument("--height", type=int, help="capture height, where the source supports it")
    p.add_argument("--fps", type=float, help="capture rate, where the source supports it")
    p.add_argument("--realtime", action="store_true", help="pace a video file or the synthetic source")
    p.add_argument("--frames", type=int, help="frames of the synthetic source (default 300)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic source")
    p.add_argument("--save", type=Path, help="annotated video to write (.mp4 or .avi)")
    p.add_argument("--jsonl", help="JSON Lines file of per-frame results ('-' for stdout)")
    p.add_argument("--show", action="store_true", help="a window with the annotated frames (q or Esc quits)")
    p.add_argument(
        "--serve", metavar="HOST:PORT", help="web page with the live stream and stats, /metrics, /healthz"
    )
    p.add_argument("--token", help="with --serve: a token every request must carry (?token= or Bearer)")
    p.add_argument(
        "--insecure", action="store_true", help="with --serve: allow a non-loopback address without a token"
    )
    p.add_argument("--mqtt", metavar="URL", help="publish JSON events to mqtt://host[:port]/topic")
    p.add_argument(
        "--mqtt-every", default="1", help="publish every N frames (default 1) or on 'change' of labels"
    )
    p.add_argument(
        "--stats", action="store_true", help="print live fps, stage times and frame age once a second"
    )
    _model_options(p)
    p.set_defaults(func=cmd_run)

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
        choices=tuple(("on", "off", "both")),
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
    p.add_argument("--plot", type=Path, metavar="OUT", help="with --compare: write OUT.png and OUT.html")
    _contract_options(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "deploy",
        allow_abbrev=False,
        help="put a model on a device over ssh (edge package, environment, model, service) and keep it "
        "running; any 'edgesight run' option after the deploy options is what the device runs",
        usage="edgesight deploy USER@HOST --model M.tflite [deploy options] [run options]",
    )
    p.add_argument(
        "destination", metavar="USER@HOST", help="the device, as ssh reaches it (a config Host works)"
    )
    p.add_argument("--model", type=Path, help="the .tflite to deploy")
    p.add_argument(
        "--service", action="store_true", help="install a systemd user service, start it, health-check it"
    )
    p.add_argument("--wheelhouse", type=Path, help="install from these wheels (devices without internet)")
    p.add_argument(
        "--interpreter",
        choices=("auto", "litert", "tflite-runtime"),
        default="auto",
        help="the device's interpreter package (default: what fits its architecture and Python)",
    )
    p.add_argument("--name", default="edgesight", help="service name (default edgesight)")
    p.add_argument("--remote-dir", help="folder on the device (default ~/NAME)")
    p.add_argument("--port", type=int, help="ssh port")
    p.add_argument("--identity", help="ssh private key file")
    p.add_argument("--ssh-config", help="ssh config file")
    p.add_argument("--ssh-option", action="append", metavar="KEY=VALUE", help="an extra ssh -o option")
    p.add_argument(
        "--health-timeout", type=float, default=60.0, help="seconds to wait for health (default 60)"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="inspect the device, print every command that changes it"
    )
    p.add_argument(
        "--status", action="store_true", help="current and previous release, service state, health"
    )
    p.add_argument("--logs", action="store_true", help="the service's last log lines")
    p.add_argument("--lines", type=int, default=50, help="with --logs: how many (default 50)")
    p.add_argument("--rollback", action="store_true", help="switch back to the previous release")
    p.add_argument("--stop", action="store_true", help="stop the service")
    p.set_defaults(func=cmd_deploy, run_args=[])
    return parser


def _stop_on_signals() -> None:
    """SIGTERM (kill, systemd) ends a run like Ctrl-C does: outputs are closed, then exit 130.
    Ctrl-C works even where the shell started us with SIGINT ignored (a background job)."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread (embedded use): leave signals alone
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.verb != "deploy":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.run_args = extra  # deploy: the options of the 'edgesight run' the device runs
    _stop_on_signals()
    try:
        return args.func(args)
    except EdgeError as exc:
        print(f"edgesight: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edgesight: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
