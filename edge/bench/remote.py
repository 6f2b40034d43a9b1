"""``edgesight bench --on USER@HOST MODEL...``: benchmark a device from the desktop.

Over the same ssh path as ``edgesight deploy`` (its options, its probe, its environments): the edge
package and the environment that fits the device (made, or reused from a deploy), the models and any
local file the options name (``--image``, a ``--source`` file or folder, ``--labels``) copied to
``ROOT/bench``; then ``edgesight bench`` runs there with its output on this terminal, and the JSON
record comes back here, ready for ``edgesight bench --compare laptop.json pi.json``.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from edge.deploy import release as rel
from edge.deploy.command import ensure_environment, sync_package
from edge.deploy.packages import environment_key, requirements
from edge.deploy.plan import Plan, probe, resolve_root
from edge.deploy.probe import choose_interpreter
from edge.deploy.ssh import Remote, Target
from edge.errors import EdgeError
from edge.sinks.files import check_writable

FOLDER = "bench"  # under the device's edgesight folder
FILE_FLAGS = ("--image", "--labels", "--source")


@dataclass(frozen=True)
class RemoteBench:
    """What ``bench --on`` was asked."""

    target: Target
    models: tuple[Path, ...]
    bench_args: tuple[str, ...]  # the bench options, as they would be typed on the device
    json: Path
    root: str = "~/edgesight"
    wheelhouse: Path | None = None
    interpreter: str = "auto"
    out: object = field(default=sys.stdout, compare=False)


def _say(job: RemoteBench, text: str) -> None:
    print(f"bench --on {job.target.destination}: {text}", file=job.out, flush=True)


def local_files(args: tuple[str, ...]) -> tuple[list[str], list[Path]]:
    """The bench options with every local file or folder they name moved under ``inputs/``, and those
    paths. A ``--source`` that is not a local path (a camera, a URL, synthetic) stays as it is."""
    out, files = [], []
    for i, a in enumerate(args):
        if i > 0 and args[i - 1] in FILE_FLAGS and Path(a).exists():
            files.append(Path(a))
            a = f"inputs/{Path(a).name}"
        out.append(a)
    return out, files


def bench_on(job: RemoteBench) -> int:
    """Set up, run and fetch; the remote bench's exit code (0 when the record came back)."""
    for model in job.models:
        if not model.is_file():
            raise EdgeError(f"model not found: {model}")
    if job.wheelhouse and not job.wheelhouse.is_dir():
        raise EdgeError(f"wheelhouse not found: {job.wheelhouse}")
    check_writable(job.json)  # before the device is set up and the bench run, not after
    remote = Remote(job.target, out=job.out)
    layout = rel.Layout(resolve_root(remote, job.root))
    device = probe(remote, layout.root)
    for line in device.lines():
        _say(job, line)
    interpreter = choose_interpreter(device, job.interpreter)
    reqs = requirements(interpreter)
    plan = Plan(
        rid=FOLDER,
        sha256="",
        interpreter=interpreter,
        requirements=tuple(reqs),
        environment=environment_key(device.python_version, interpreter, reqs),
        system_site="picamera" in job.bench_args,
        run_args=(),
        files=(),
        health_url="",
    )
    folder = f"{layout.root}/{FOLDER}"
    remote.run(f"mkdir -p {rel.q(folder)}/models {rel.q(folder)}/inputs\n", what="making the folders")
    ensure_environment(remote, layout, device, plan, job.wheelhouse, lambda text: _say(job, text))
    sync_package(remote, folder)
    args, files = local_files(job.bench_args)
    for path in files:
        remote.sync(str(path), f"{folder}/inputs/", what=f"copying {path.name}")
    for model in job.models:
        remote.sync(str(model), f"{folder}/models/{model.name}", what=f"copying {model.name}")
    names = [f"models/{m.name}" for m in job.models]
    _say(job, f"{len(names)} model(s) copied; running edgesight bench on {interpreter}")
    python = rel.q(layout.venv(plan.environment) + "/bin/python")
    command = shlex.join(["bench", *names, *args, "--json", "record.json"])
    script = f"cd {rel.q(folder)} && rm -f record.json && PYTHONPATH=. exec {python} -m edge.cli {command}\n"
    code = remote.stream(script, what="running the benchmark")
    if code not in (0, 130):
        where = job.target.destination
        raise EdgeError(f"the benchmark on {where} ended with exit {code} (its error is above)")
    job.json.parent.mkdir(parents=True, exist_ok=True)
    remote.sync(f"{folder}/record.json", str(job.json), what="fetching the record", fetch=True)
    _say(job, f"record written to {job.json}")
    return code
