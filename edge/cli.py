"""The ``edgesight`` command: the top parser assembles one module per verb (``edge.commands`` on the
device side, ``train.commands`` on the desktop side). Building it imports neither numpy nor
TensorFlow; each verb imports what it needs when it runs."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import importlib.util
import os
import signal
import sys

from edge.errors import EdgeError

EDGE_VERBS = ("predict", "info", "eval", "run", "bench", "deploy")
TRAIN_VERBS = ("demo", "train", "export")


def _missing_train(verb: str):
    def handle(args: argparse.Namespace) -> int:
        raise EdgeError(
            f"'edgesight {verb}' runs on the desktop and this install has only the device half: "
            "pip install 'edgesight[train]'"
        )

    return handle


def _has_train() -> bool:
    try:
        return importlib.util.find_spec("train.commands") is not None
    except ImportError:  # no ``train`` package at all
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgesight", description="Train an image model on the desktop, run it on a Raspberry Pi camera."
    )
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    has_train = _has_train()
    for verb in (*TRAIN_VERBS, *EDGE_VERBS):
        if verb in TRAIN_VERBS and not has_train:  # a device release carries only edge/
            p = sub.add_parser(verb, help="(desktop only)", add_help=True)
            p.set_defaults(func=_missing_train(verb), takes_extra=True)
            continue
        package = "train.commands" if verb in TRAIN_VERBS else "edge.commands"
        module = importlib.import_module(f"{package}.{verb}")
        module.add_parser(sub).set_defaults(func=module.handle)
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
    if extra and not getattr(args, "takes_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.run_args = extra  # deploy: the options of the 'edgesight run' the device runs
    _stop_on_signals()
    try:
        status = args.func(args)
        sys.stdout.flush()  # here, not at exit: a full disk under a redirected stdout is one line too
        return status
    except EdgeError as exc:
        print(f"edgesight: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edgesight: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, as Unix tools do
        _drop_stdout()
        return 141
    except OSError as exc:  # what no boundary turned into an EdgeError: a full disk, a path not made
        _drop_stdout()
        print(f"edgesight: error: {_os_error(exc)}", file=sys.stderr)
        return 2


def _os_error(exc: OSError) -> str:
    """An ``OSError`` as one line: the file and the reason; with no file named, a write that failed
    for lack of room is standard output's (a redirect to a full disk)."""
    reason = exc.strerror or str(exc)
    if exc.filename is not None:
        return f"{exc.filename}: {reason}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO):
        return f"cannot write the output: {reason}"
    return reason


def _drop_stdout() -> None:
    """Standard output to /dev/null, so that the flush at exit cannot fail a second time."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
