"""``edgesight deploy``: put a model and the edge package on a device over ssh and keep it running.

    probe (read-only) -> folders -> [wheelhouse] -> environment (created or reused) -> edge package and
    model (sha256 checked) -> run.sh, release.json, unit -> smoke check (``edgesight info`` in the new
    environment) -> [--service: stop old, switch ``current``, start new, health check, roll back on failure]

Nothing touches the running release before the smoke check passes, and the switch itself is one
script that ignores hang-ups: a deploy interrupted at any point leaves the previous version running.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from edge.deploy import release as rel
from edge.deploy.packages import environment_key, requirements
from edge.deploy.probe import PROBE, Device, choose_interpreter, parse_probe
from edge.deploy.ssh import Remote, Target, mask
from edge.errors import EdgeError
from edge.hashing import sha256_file

PACKAGE = Path(__file__).resolve().parents[1]  # the local ``edge`` folder: all a device gets
SPEC_FLAGS = ("--labels", "--mean", "--std", "--task", "--layout", "--resize", "--color", "--runtime")
LOOPBACK_FOR = {"", "0.0.0.0", "::", "localhost"}


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
    dry_run: bool = False
    out: object = field(default=sys.stdout, compare=False)


def say(opts: Options, text: str) -> None:
    print(f"deploy: {mask(text)}", file=opts.out, flush=True)


def parse_run_args(model: Path, run_args: tuple[str, ...]) -> argparse.Namespace:
    """The run options, checked here with ``edgesight run``'s own parser before anything connects."""
    from edge.cli import build_parser

    parser = build_parser()
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            return parser.parse_args(["run", str(model), *run_args])
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


def _spec_args(args: list[str]) -> list[str]:
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
    token: str

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
            "token": self.token,
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
    run_args, files = _rewrite_local_files(list(opts.run_args))
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
        token=run_ns.token or "",
    )


def _install(remote: Remote, layout: rel.Layout, opts: Options, device: Device, plan: Plan) -> None:
    """Everything up to a complete release that loads its model; the running one is not touched."""
    release = layout.release(plan.rid)
    remote.run(rel.prepare(layout, plan.rid), what="making the folders")
    if opts.wheelhouse:
        remote.sync(f"{opts.wheelhouse}/", f"{layout.root}/wheelhouse/", what="copying the wheelhouse")
    say(opts, f"environment {plan.environment}: {', '.join(plan.requirements)}")
    script = rel.make_venv(
        layout, plan.environment, device.python, plan.requirements, bool(opts.wheelhouse), plan.system_site
    )
    made = remote.run(script, what="making the environment").strip()
    if made:
        say(opts, f"environment {made}")
    remote.sync(
        f"{PACKAGE}/", f"{release}/edge/", "--exclude", "__pycache__", what="copying the edge package"
    )
    for path in (opts.model, *plan.files):
        remote.sync(str(path), f"{release}/model/{path.name}", what=f"copying {path.name}")
    remote.run(
        rel.verify_model(layout, plan.rid, opts.model.name, plan.sha256), what="checking the model's sha256"
    )
    if not opts.dry_run:
        say(opts, f"model copied, sha256 {plan.sha256[:16]}... verified on the device")
    files = rel.release_files(layout, plan.rid, plan.environment, opts.model.name, list(plan.run_args))
    remote.run(
        rel.write_release(layout, plan.rid, files, plan.record(opts.model)), what="writing the release"
    )
    remote.run(
        rel.smoke(layout, plan.rid, plan.environment, opts.model.name, _spec_args(plan.run_args)),
        what="loading the model in the new environment",
    )
    remote.run(
        f"cp {rel.q(release + '/' + opts.name + '.service')} {rel.q(layout.unit_path)}\n",
        what="writing the unit",
    )


def deploy(opts: Options) -> int:
    """The whole deploy; 0 when the new release runs (or is installed, without --service), 1 when the
    health check failed and the previous release was restored."""
    if opts.model is None or not opts.model.is_file():
        raise EdgeError(f"model not found: {opts.model}")
    if opts.wheelhouse and not opts.wheelhouse.is_dir():
        raise EdgeError(f"wheelhouse not found: {opts.wheelhouse}")
    from edge.metadata import read_model_file

    read_model_file(opts.model)  # a .tflite at all, before anything connects
    run_ns = parse_run_args(opts.model, opts.run_args)
    remote = Remote(opts.target, dry_run=opts.dry_run, out=opts.out, secrets=(run_ns.token or "",))
    layout = rel.Layout(resolve_root(remote, opts.root), opts.name)
    device = probe(remote, layout.root)
    for line in device.lines():
        say(opts, line)
    plan = plan_release(opts, device, run_ns)
    say(opts, f"release {plan.rid}: {opts.model.name} on {plan.interpreter} in {layout.root}")
    if opts.dry_run:
        say(opts, "dry run: the device was inspected (read-only); these are the commands that change it")
    _install(remote, layout, opts, device, plan)

    systemd = device.systemd_user
    if opts.service and not systemd:
        say(opts, "systemd user services are not running on the device: the service command starts directly")
    remote.run(
        rel.switch(layout, plan.rid, start=opts.service, systemd=systemd), what="switching to the release"
    )
    if not opts.dry_run:
        say(opts, f"current -> releases/{plan.rid}")
    if not opts.service:
        say(opts, f"installed; start it with: {layout.current}/run.sh (or deploy with --service)")
        return 0
    record = plan.record(opts.model)
    if opts.dry_run:
        remote.run(
            rel.health(layout, systemd, plan.health_url, plan.token, opts.health_timeout, opts.settle),
            what="health check",
        )
        return 0
    ok, detail = check_health(remote, layout, systemd, record, opts)
    if ok:
        say(opts, f"healthy: {detail}")
        return 0
    say(opts, f"health check failed: {detail}")
    return _roll_back(remote, layout, systemd, opts, reason=detail)


def check_health(
    remote: Remote, layout: rel.Layout, systemd: bool, record: dict, opts: Options
) -> tuple[bool, str]:
    script = rel.health(
        layout,
        systemd,
        record.get("health_url", ""),
        record.get("token", ""),
        opts.health_timeout,
        opts.settle,
    )
    answer = remote.run(script, what="health check", check=False).strip().splitlines()
    try:
        result = json.loads(answer[-1]) if answer else {}
    except json.JSONDecodeError:
        result = {}
    if not result.get("ok"):
        reason = result.get("reason", "no answer from the health check")
        error = remote.run(rel.last_error(layout, systemd), what="reading the log", check=False).strip()
        return False, f"{reason}; {error}" if error else reason
    frames = result.get("frames")
    return True, f"{frames} frames processed" if frames else f"running for {result['seconds']} s"


def _read_record(remote: Remote, layout: rel.Layout, link: str) -> dict | None:
    text = remote.run(
        f"cat {rel.q(layout.root + '/' + link + '/release.json')} 2>/dev/null || true\n",
        what="reading the release",
        changes=False,
    )
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return None


def _roll_back(remote: Remote, layout: rel.Layout, systemd: bool, opts: Options, reason: str) -> int:
    previous = _read_record(remote, layout, "previous")
    if previous is None:
        remote.run(rel.stop(layout), what="stopping the failed release")
        raise EdgeError(
            f"the new release failed its health check ({reason}) and there is no previous one to roll back to"
        )
    remote.run(rel.revert(layout, systemd), what="rolling back")
    ok, detail = check_health(remote, layout, systemd, previous, opts)
    state = f"healthy, {detail}" if ok else f"also unhealthy: {detail}"
    say(opts, f"rolled back to {previous['id']}: {state}")
    return 1


def _mode(remote: Remote, layout: rel.Layout) -> bool:
    return (
        remote.run(
            f"cat {rel.q(layout.root)}/mode 2>/dev/null || true\n", what="reading the mode", changes=False
        ).strip()
        == "systemd"
    )


def rollback(opts: Options) -> int:
    """Back to the previous release, restarted and health-checked."""
    remote = Remote(opts.target, dry_run=opts.dry_run, out=opts.out)
    layout = rel.Layout(resolve_root(remote, opts.root), opts.name)
    previous = _read_record(remote, layout, "previous")
    if previous is None:
        raise EdgeError(f"no previous release in {layout.root} to roll back to")
    systemd = _mode(remote, layout)
    remote.run(rel.switch(layout, previous["id"], start=True, systemd=systemd), what="rolling back")
    say(opts, f"current -> releases/{previous['id']}")
    if opts.dry_run:
        return 0
    ok, detail = check_health(remote, layout, systemd, previous, opts)
    say(opts, f"{'healthy' if ok else 'unhealthy'}: {detail}")
    return 0 if ok else 1


def status(opts: Options) -> int:
    """Current and previous release, the service's state and, with --serve, /healthz."""
    remote = Remote(opts.target, out=opts.out)
    layout = rel.Layout(resolve_root(remote, opts.root), opts.name)
    text = remote.run(
        rel.status(layout),
        what="reading the status",
        changes=False,
    )
    facts = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if facts.get("state") == "absent":
        raise EdgeError(f"nothing deployed in {layout.root} on {opts.target.destination}")
    record = _read_record(remote, layout, "current") or {}
    say(opts, f"{opts.target.destination}:{layout.root}")
    model, sha, interp = (
        record.get("model", "?"),
        record.get("sha256", "?")[:16],
        record.get("interpreter", "?"),
    )
    say(
        opts,
        f"current: {facts.get('current') or '-'} ({model}, sha256 {sha}..., {interp})",
    )
    say(opts, f"run options: {' '.join(record.get('args', []))}")
    say(
        opts,
        f"previous: {facts.get('previous') or '-'}; releases: {facts.get('releases', '').strip() or '-'}",
    )
    say(opts, f"service ({facts.get('mode') or 'not started'}): {facts.get('state', '?')}")
    if record.get("health_url") and facts.get("state", "").startswith(("running", "active")):
        ok, detail = check_health(
            remote,
            layout,
            facts.get("mode") == "systemd",
            record,
            replace(opts, health_timeout=5.0),
        )
        say(opts, f"health: {'ok, ' if ok else 'failing: '}{detail}")
    return 0


def logs(opts: Options, lines: int = 50) -> int:
    """The service's last lines: the journal under systemd, else logs/run.log."""
    remote = Remote(opts.target, out=opts.out)
    layout = rel.Layout(resolve_root(remote, opts.root), opts.name)
    script = rel.logs(layout, lines)
    print(mask(remote.run(script, what="reading the logs", changes=False)), end="", file=opts.out)
    return 0


def stop_service(opts: Options) -> int:
    remote = Remote(opts.target, dry_run=opts.dry_run, out=opts.out)
    layout = rel.Layout(resolve_root(remote, opts.root), opts.name)
    remote.run(rel.stop(layout), what="stopping the service")
    say(opts, "stopped")
    return 0
