"""``edgesight deploy``: put a model and the edge package on a device over ssh and keep it running.

    probe (read-only) -> folders -> [wheelhouse] -> environment (created or reused) -> edge package and
    model (sha256 checked) -> run.sh, edgesight, secrets.env, release.json, unit -> smoke check
    (``edgesight info`` in the new environment) -> switch ``current`` (and the ``edgesight`` command)
    -> [--service: stop old, start new, health check, roll back on failure]

Nothing touches the running release before the smoke check passes, and the switch itself is one
script that ignores hang-ups: a deploy interrupted at any point leaves the previous version running.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from edge.deploy import release as rel
from edge.deploy import service
from edge.deploy.plan import (
    Options,
    Plan,
    parse_run_args,
    plan_release,
    probe,
    resolve_root,
    spec_args,
)
from edge.deploy.probe import Device
from edge.deploy.ssh import Remote, mask
from edge.errors import EdgeError

PACKAGE = Path(__file__).resolve().parents[1]  # the local ``edge`` folder: all a device gets


def say(opts: Options, text: str) -> None:
    print(f"deploy: {mask(text)}", file=opts.out, flush=True)


def ensure_environment(
    remote: Remote,
    layout: rel.Layout,
    device: Device,
    plan: Plan,
    wheelhouse: Path | None,
    tell,
) -> None:
    """The wheelhouse (when given) and the environment ``plan`` names, made or reused."""
    if wheelhouse:
        remote.sync(f"{wheelhouse}/", f"{layout.root}/wheelhouse/", what="copying the wheelhouse")
    tell(f"environment {plan.environment}: {', '.join(plan.requirements)}")
    script = rel.make_venv(
        layout, plan.environment, device.python, list(plan.requirements), bool(wheelhouse), plan.system_site
    )
    made = remote.run(script, what="making the environment").strip()
    if made:
        tell(f"environment {made}")


def sync_package(remote: Remote, dest: str) -> None:
    """The local ``edge`` package (never train/ or TensorFlow) into ``dest`` on the device."""
    remote.sync(f"{PACKAGE}/", f"{dest}/edge/", "--exclude", "__pycache__", what="copying the edge package")


def _install(remote: Remote, layout: rel.Layout, opts: Options, device: Device, plan: Plan) -> None:
    """Everything up to a complete release that loads its model; the running one is not touched."""
    release = layout.release(plan.rid)
    remote.run(rel.prepare(layout, plan.rid), what="making the folders")
    ensure_environment(remote, layout, device, plan, opts.wheelhouse, lambda text: say(opts, text))
    sync_package(remote, release)
    for path in (opts.model, *plan.files):
        remote.sync(str(path), f"{release}/model/{path.name}", what=f"copying {path.name}")
    remote.run(
        rel.verify_model(layout, plan.rid, opts.model.name, plan.sha256), what="checking the model's sha256"
    )
    if not opts.dry_run:
        say(opts, f"model copied, sha256 {plan.sha256[:16]}... verified on the device")
    files = rel.release_files(
        layout, plan.rid, plan.environment, opts.model.name, list(plan.run_args), plan.secrets
    )
    remote.run(
        rel.write_release(layout, plan.rid, files, plan.record(opts.model)), what="writing the release"
    )
    remote.run(
        rel.smoke(layout, plan.rid, plan.environment, opts.model.name, spec_args(list(plan.run_args))),
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
    from edge.model.metadata import read_model_file

    read_model_file(opts.model)  # a .tflite at all, before anything connects
    run_ns = parse_run_args(opts.model, opts.run_args)
    remote = Remote(opts.target, dry_run=opts.dry_run, out=opts.out)
    layout = rel.Layout(resolve_root(remote, opts.root), opts.name)
    device = probe(remote, layout.root)
    for line in device.lines():
        say(opts, line)
    plan = plan_release(opts, device, run_ns)
    remote.secrets = tuple(plan.secrets.values())
    say(opts, f"release {plan.rid}: {opts.model.name} on {plan.interpreter} in {layout.root}")
    if opts.dry_run:
        say(opts, "dry run: the device was inspected (read-only); these are the commands that change it")
    _install(remote, layout, opts, device, plan)

    systemd = device.systemd_user
    if opts.service and not systemd:
        say(opts, "systemd user services are not running on the device: the service command starts directly")
    remote.run(
        service.switch(layout, plan.rid, start=opts.service, systemd=systemd), what="switching to the release"
    )
    link = remote.run(rel.link_command(layout, opts.bin_dir), what="linking the edgesight command").strip()
    if not opts.dry_run:
        say(opts, f"current -> releases/{plan.rid}; {link} -> {layout.current}/edgesight")
    if not opts.service:
        say(opts, f"installed; start it with: {layout.current}/run.sh (or deploy with --service)")
        return 0
    if opts.dry_run:
        remote.run(service.health(layout, systemd, opts.health_timeout, opts.settle), what="health check")
        return 0
    ok, detail = check_health(remote, layout, systemd, opts)
    if ok:
        say(opts, f"healthy: {detail}")
        return 0
    say(opts, f"health check failed: {detail}")
    return _roll_back(remote, layout, systemd, opts, reason=detail)


def check_health(remote: Remote, layout: rel.Layout, systemd: bool, opts: Options) -> tuple[bool, str]:
    """The current release's health, as the device sees it; (ok, what was seen)."""
    script = service.health(layout, systemd, opts.health_timeout, opts.settle)
    answer = remote.run(script, what="health check", check=False).strip().splitlines()
    try:
        result = json.loads(answer[-1]) if answer else {}
    except json.JSONDecodeError:
        result = {}
    if not result.get("ok"):
        reason = result.get("reason", "no answer from the health check")
        error = remote.run(service.last_error(layout, systemd), what="reading the log", check=False).strip()
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
        remote.run(service.stop(layout), what="stopping the failed release")
        raise EdgeError(
            f"the new release failed its health check ({reason}) and there is no previous one to roll back to"
        )
    remote.run(service.revert(layout, systemd), what="rolling back")
    ok, detail = check_health(remote, layout, systemd, opts)
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
    remote.run(service.switch(layout, previous["id"], start=True, systemd=systemd), what="rolling back")
    say(opts, f"current -> releases/{previous['id']}")
    if opts.dry_run:
        return 0
    ok, detail = check_health(remote, layout, systemd, opts)
    say(opts, f"{'healthy' if ok else 'unhealthy'}: {detail}")
    return 0 if ok else 1


def status(opts: Options) -> int:
    """Current and previous release, the service's state and, with --serve, /healthz."""
    remote = Remote(opts.target, out=opts.out)
    layout = rel.Layout(resolve_root(remote, opts.root), opts.name)
    text = remote.run(service.status(layout), what="reading the status", changes=False)
    facts = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if facts.get("state") == "absent":
        raise EdgeError(f"nothing deployed in {layout.root} on {opts.target.destination}")
    record = _read_record(remote, layout, "current") or {}
    say(opts, f"{opts.target.destination}:{layout.root}")
    model, sha, interp = record.get("model", "?"), record.get("sha256", "?")[:16], record.get("interpreter")
    say(opts, f"current: {facts.get('current') or '-'} ({model}, sha256 {sha}..., {interp or '?'})")
    say(opts, f"run options: {' '.join(record.get('args', []))}")
    releases = facts.get("releases", "").strip() or "-"
    say(opts, f"previous: {facts.get('previous') or '-'}; releases: {releases}")
    say(opts, f"service ({facts.get('mode') or 'not started'}): {facts.get('state', '?')}")
    if record.get("health_url") and facts.get("state", "").startswith(("running", "active")):
        systemd = facts.get("mode") == "systemd"
        ok, detail = check_health(remote, layout, systemd, replace(opts, health_timeout=5.0))
        say(opts, f"health: {'ok, ' if ok else 'failing: '}{detail}")
    return 0


def logs(opts: Options, lines: int = 50) -> int:
    """The service's last lines: the journal under systemd, else logs/run.log."""
    remote = Remote(opts.target, out=opts.out)
    layout = rel.Layout(resolve_root(remote, opts.root), opts.name)
    text = remote.run(service.logs(layout, lines), what="reading the logs", changes=False)
    print(mask(text), end="", file=opts.out)
    return 0


def stop_service(opts: Options) -> int:
    remote = Remote(opts.target, dry_run=opts.dry_run, out=opts.out)
    layout = rel.Layout(resolve_root(remote, opts.root), opts.name)
    remote.run(service.stop(layout), what="stopping the service")
    say(opts, "stopped")
    return 0
