"""``edgesight deploy USER@HOST --model M.tflite [deploy options] [run options]``: a model on a device
over ssh, kept running; ``--status``, ``--logs``, ``--rollback`` and ``--stop`` look after it."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.commands.options import add_ssh_options, ssh_target
from edge.errors import EdgeError

ACTIONS = ("status", "logs", "rollback", "stop")


def add_parser(sub) -> argparse.ArgumentParser:
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
    p.add_argument("--name", default="edgesight", help="service name and folder (default edgesight)")
    p.add_argument(
        "--bin-dir",
        default="~/.local/bin",
        help="where the device's edgesight command is linked (default ~/.local/bin, on PATH in login shells)",
    )
    add_ssh_options(p)
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
    p.set_defaults(run_args=[], takes_extra=True)
    return p


def handle(args: argparse.Namespace) -> int:
    from edge.deploy import command

    actions = [a for a in ACTIONS if getattr(args, a)]
    if len(actions) > 1:
        raise EdgeError(f"give one of --status, --logs, --rollback, --stop, not {' and '.join(actions)}")
    if actions and (args.model or args.run_args):
        raise EdgeError(f"--{actions[0]} takes no model or run options")
    if args.health_timeout <= 0:
        raise EdgeError(f"--health-timeout must be above 0, got {args.health_timeout}")
    opts = command.Options(
        target=ssh_target(args),
        root=args.remote_dir or f"~/{args.name}",  # ~/edgesight by default, as bench --on
        name=args.name,
        model=args.model,
        run_args=tuple(args.run_args),
        service=args.service,
        wheelhouse=args.wheelhouse,
        interpreter=args.interpreter,
        health_timeout=args.health_timeout,
        dry_run=args.dry_run,
        bin_dir=args.bin_dir,
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
