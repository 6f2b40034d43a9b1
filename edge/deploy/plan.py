"""What a deploy will do, decided before anything on the device changes: the options, the device's
facts, the interpreter and packages, the release's id, files, run options and secrets.

Secrets (``--token``, an MQTT password) never reach the device's process list: they are taken out of
the run options and travel in the release's ``secrets.env`` (mode 600), which ``run.sh`` loads into
the environment; ``edgesight run`` reads them from there.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from edge.deploy import release as rel
from edge.deploy.packages import environment_key, requirements
from edge.deploy.probe import PROBE, Device, choose_interpreter, parse_probe
from edge.deploy.ssh import Remote, Target
from edge.errors import EdgeError
from edge.util.hashing import sha256_file

SPEC_FLAGS = ("--labels", "--mean", "--std", "--task", "--layout", "--resize", "--color", "--runtime")
LOOPBACK_FOR = {"", "0.0.0.0", "::", "localhost"}
TOKEN_ENV = "EDGESIGHT_TOKEN"
MQTT_PASSWORD_ENV = "EDGESIGHT_MQTT_PASSWORD"


@dataclass(frozen=True)
class Options:
    """What ``edgesight deploy`` was asked."""

    target: Target
    root: str = "~/edgesight"
    name: str = "edgesight"
    model: Path | None = None
    run_args: tuple[str, ...] = ()
    service: bool = False
    wheelhouse: Path | None = None
    interpreter: str = "auto"
    health_timeout: float = 60.0
    settle: float = 5.0
    bin_dir: str = "~/.local/bin"
    dry_run: bool = False
    out: object = field(default=sys.stdout, compare=False)


def parse_run_args(model: Path, run_args: tuple[str, ...]) -> argparse.Namespace:
    """The run options, checked here with ``edgesight run``'s own parser before anything connects."""
    from edge.commands.run import run_parser

    parser = run_parser()
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            return parser.parse_args([str(model), *run_args])
    except SystemExit:
        why = (
            said.getvalue().strip().splitlines()[-1].split("error: ", 1)[-1]
            if said.getvalue().strip()
            else ""
        )
        raise EdgeError(f"the run options are not valid for 'edgesight run': {why}") from None


def health_url(args: argparse.Namespace) -> str:
    """/healthz as the device itself reaches it, or '' without --serve."""
    if not args.serve:
        return ""
    from edge.sinks.web import parse_address

    host, port = parse_address(args.serve)
    host = "127.0.0.1" if host in LOOPBACK_FOR else host
    return f"http://{host}:{port}/healthz"


def resolve_root(remote: Remote, root: str) -> str:
    """``~/x`` -> the device's absolute path (read-only; a dry run asks too)."""
    if not root.startswith("~"):
        return root.rstrip("/")
    home = remote.run('echo "$HOME"', what="reading $HOME", changes=False).strip()
    if not home.startswith("/"):
        raise EdgeError(f"the device's $HOME is not an absolute path: {home!r}")
    return (home + root[1:]).rstrip("/")


def probe(remote: Remote, root: str) -> Device:
    return parse_probe(
        remote.run(PROBE.replace("@DIR@", rel.q(root)), what="inspecting the device", changes=False)
    )


def _joined(args: list[str], flags: tuple[str, ...]) -> list[str]:
    """``--flag=value`` -> ``--flag value`` for the flags named."""
    out: list[str] = []
    for a in args:
        flag = a.split("=", 1)[0]
        out += a.split("=", 1) if flag in flags and "=" in a else [a]
    return out


def split_secrets(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The run options without their secrets, and the secrets as environment variables: ``--token T``
    becomes EDGESIGHT_TOKEN, the password of ``--mqtt mqtt://user:pass@host/topic`` becomes
    EDGESIGHT_MQTT_PASSWORD (the URL keeps the user)."""
    args = _joined(args, ("--token", "--mqtt"))
    out, secrets = [], {}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--token" and i + 1 < len(args):
            secrets[TOKEN_ENV] = args[i + 1]
            i += 2
            continue
        if a == "--mqtt" and i + 1 < len(args):
            parts = urlsplit(args[i + 1])
            if parts.password:
                secrets[MQTT_PASSWORD_ENV] = parts.password
                netloc = f"{parts.username}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
                out += [a, urlunsplit(parts._replace(netloc=netloc))]
                i += 2
                continue
        out.append(a)
        i += 1
    return out, secrets


def _rewrite_local_files(args: list[str]) -> tuple[list[str], list[Path]]:
    """``--labels FILE`` names a desktop file: it travels with the model and the option follows it."""
    split: list[str] = []
    for a in args:  # --labels=FILE -> --labels FILE
        split += a.split("=", 1) if a.startswith("--labels=") else [a]
    out, files = [], []
    for i, a in enumerate(split):
        if i > 0 and split[i - 1] == "--labels":
            path = Path(a)
            if not path.is_file():
                raise EdgeError(f"labels file not found: {path}")
            files.append(path)
            a = f"model/{path.name}"
        out.append(a)
    return out, files


def spec_args(args: list[str]) -> list[str]:
    """The options ``edgesight info`` shares with ``run`` (labels, normalisation, task, layout ...)."""
    out = []
    for i, a in enumerate(args):
        flag = a.split("=", 1)[0]
        if flag in SPEC_FLAGS:
            out += [a] if "=" in a else [a, args[i + 1]] if i + 1 < len(args) else [a]
    return out


@dataclass(frozen=True)
class Plan:
    """One release: what goes where, decided before anything on the device changes."""

    rid: str
    sha256: str
    interpreter: str
    requirements: tuple[str, ...]
    environment: str
    system_site: bool
    run_args: tuple[str, ...]
    files: tuple[Path, ...]  # local files the run options name (a labels file), copied next to the model
    health_url: str
    secrets: dict[str, str] = field(default_factory=dict, compare=False)  # secrets.env, never argv

    def record(self, model: Path) -> dict:
        """release.json"""
        return {
            "id": self.rid,
            "model": model.name,
            "sha256": self.sha256,
            "interpreter": self.interpreter,
            "environment": self.environment,
            "args": list(self.run_args),
            "health_url": self.health_url,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }


def plan_release(opts: Options, device: Device, run_ns: argparse.Namespace) -> Plan:
    interpreter = choose_interpreter(device, opts.interpreter)
    reqs = requirements(interpreter)
    picamera = run_ns.source == "picamera"  # Picamera2 is Debian's: the environment must see it
    if picamera and not device.picamera2:
        raise EdgeError(
            "--source picamera, but the device's python3 cannot import picamera2: "
            "sudo apt install python3-picamera2"
        )
    run_args, secrets = split_secrets(list(opts.run_args))
    run_args, files = _rewrite_local_files(run_args)
    sha = sha256_file(opts.model)
    return Plan(
        rid=f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{sha[:8]}",
        sha256=sha,
        interpreter=interpreter,
        requirements=tuple(reqs),
        environment=environment_key(device.python_version, interpreter, reqs, system_site=picamera),
        system_site=picamera,
        run_args=tuple(run_args),
        files=tuple(files),
        health_url=health_url(run_ns),
        secrets=secrets,
    )
