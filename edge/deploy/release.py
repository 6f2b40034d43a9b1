"""The layout on the device and the shell scripts that change it.

    ROOT/releases/ID/{edge/, model/NAME.tflite, run.sh, edgesight, release.json, secrets.env, .complete}
    ROOT/venvs/KEY/            one per (Python, interpreter, requirements), reused while they hold
    ROOT/wheelhouse/           with --wheelhouse: what pip installs from, offline
    ROOT/current -> releases/ID, ROOT/previous -> releases/OLD (switched with an atomic rename)
    ROOT/NAME.service          the systemd user unit (also under ~/.config/systemd/user with --service)
    ROOT/mode                  "systemd" or "direct" (started with nohup where systemd is not running)
    ROOT/logs/run.log, ROOT/run.pid   in direct mode
    BIN/edgesight -> ROOT/current/edgesight   the device verbs on the user's PATH (BIN: ~/.local/bin)

``run.sh`` is what the service runs (``edgesight run`` with the deploy's options); ``edgesight`` is the
command for a person on the device (``edgesight bench model.tflite``), both in the release's own
environment. ``secrets.env`` (mode 600) holds the token and MQTT password, loaded into the environment
by ``run.sh``: never on a command line, where every user of the device could read them in ``ps``.

A release is complete once ``.complete`` exists; only complete releases are ever switched to, and a
deploy that stops early leaves the running one alone.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

RENAME = "python3 -c 'import os, sys; os.replace(sys.argv[1], sys.argv[2])'"
SHA256 = "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())"


def q(path: str) -> str:
    return shlex.quote(path)


@dataclass(frozen=True)
class Layout:
    """Absolute paths on the device under ``root``."""

    root: str
    name: str = "edgesight"

    def release(self, rid: str) -> str:
        return f"{self.root}/releases/{rid}"

    def venv(self, key: str) -> str:
        return f"{self.root}/venvs/{key}"

    @property
    def current(self) -> str:
        return f"{self.root}/current"

    @property
    def unit_path(self) -> str:
        return f"{self.root}/{self.name}.service"

    @property
    def pid_file(self) -> str:
        return f"{self.root}/run.pid"

    @property
    def log_file(self) -> str:
        return f"{self.root}/logs/run.log"


def prepare(layout: Layout, rid: str, keep: int = 3) -> str:
    """Folders for a new release. Releases an earlier deploy left incomplete are removed, and complete
    ones beyond the newest ``keep``, never the current or previous one."""
    root, rel = q(layout.root), q(layout.release(rid))
    return f"""set -e
mkdir -p {root}/releases {root}/venvs {root}/logs {rel}/model
cd {root}
for d in releases/*/; do
  d=${{d%/}}
  [ -d "$d" ] && [ ! -e "$d/.complete" ] && [ "$d" != releases/{q(rid)} ] && rm -rf "$d"
done
i=0
for r in $(ls -1 releases | sort -r); do
  [ -e "releases/$r/.complete" ] || continue
  i=$((i+1))
  [ $i -le {int(keep)} ] && continue
  [ "releases/$r" = "$(readlink current)" ] && continue
  [ "releases/$r" = "$(readlink previous)" ] && continue
  rm -rf "releases/$r"
done
true
"""


def make_venv(
    layout: Layout, key: str, python: str, reqs: list[str], wheelhouse: bool, system_site: bool = False
) -> str:
    """Create the environment unless a complete one with this key exists; prints created|reused.
    ``system_site`` lets it see Debian's packages (Picamera2 comes from apt, not pip)."""
    env = q(layout.venv(key))
    site = " --system-site-packages" if system_site else ""
    source = f"--no-index --find-links {q(layout.root + '/wheelhouse')}" if wheelhouse else ""
    packages = " ".join(q(r) for r in reqs)
    return f"""set -e
if [ -e {env}/.complete ]; then echo reused; exit 0; fi
rm -rf {env}
{q(python)} -m venv{site} {env}
{env}/bin/python -m pip install --quiet --disable-pip-version-check {source} {packages}
touch {env}/.complete
echo created
"""


def verify_model(layout: Layout, rid: str, name: str, sha256: str) -> str:
    """Checks the copied model's sha256 on the device."""
    path = q(f"{layout.release(rid)}/model/{name}")
    return f"""set -e
if command -v sha256sum >/dev/null 2>&1; then got=$(sha256sum {path} | cut -d' ' -f1)
else got=$(python3 -c {q(SHA256)} {path}); fi
[ "$got" = {q(sha256)} ] || {{ echo "sha256 mismatch: expected {sha256}, got $got" >&2; exit 1; }}
"""


def run_script(layout: Layout, venv_key: str, model_name: str, args: list[str], rid: str) -> str:
    """run.sh: the release's ``edgesight run`` command, from its own folder and environment, with the
    secrets in its environment; its own arguments are added (``run.sh --stats``)."""
    command = " ".join(q(a) for a in args)
    return f"""#!/bin/sh
# edgesight release {rid}
cd "$(dirname "$0")" || exit 1
export PYTHONPATH="$PWD"
if [ -f secrets.env ]; then set -a; . ./secrets.env; set +a; fi
exec {q(layout.venv(venv_key) + "/bin/python")} -m edge.cli run model/{q(model_name)} {command} "$@"
"""


def command_script(layout: Layout, venv_key: str, rid: str) -> str:
    """``edgesight``: the device verbs (bench, predict, info, run ...) in this release's environment,
    from wherever the user is."""
    release = layout.release(rid)
    return f"""#!/bin/sh
# edgesight release {rid}: the device verbs, in this release's environment
PYTHONPATH={q(release)} exec {q(layout.venv(venv_key) + "/bin/python")} -m edge.cli "$@"
"""


def secrets_file(secrets: dict[str, str]) -> str:
    """secrets.env: ``KEY='value'`` lines a POSIX shell can source."""
    return "".join(f"{key}={q(value)}\n" for key, value in sorted(secrets.items()))


def unit_file(layout: Layout, description: str) -> str:
    """The systemd user unit: restart on failure, stdout and stderr to the journal."""
    return f"""[Unit]
Description=edgesight: {description}
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
ExecStart="{layout.current}/run.sh"
Restart=on-failure
RestartSec=3
# SIGTERM makes edgesight close its outputs and exit 130
SuccessExitStatus=130
TimeoutStopSec=15

[Install]
WantedBy=default.target
"""


def release_files(
    layout: Layout, rid: str, venv_key: str, model_name: str, args: list[str], secrets: dict[str, str]
) -> dict[str, str]:
    """run.sh, the ``edgesight`` command, secrets.env and the unit, by file name."""
    return {
        "run.sh": run_script(layout, venv_key, model_name, args, rid),
        "edgesight": command_script(layout, venv_key, rid),
        "secrets.env": secrets_file(secrets),
        f"{layout.name}.service": unit_file(layout, f"{model_name} ({rid})"),
    }


def write_release(layout: Layout, rid: str, files: dict[str, str], record: dict) -> str:
    """Writes the release's files (mode 600: secrets.env holds the token; run.sh and edgesight 700)
    and release.json, then marks the release complete."""
    rel = layout.release(rid)
    parts = ["set -e", "umask 077"]
    for name, text in {**files, "release.json": json.dumps(record, indent=1) + "\n"}.items():
        parts.append(f"cat > {q(rel + '/' + name)} <<'EDGESIGHT_EOF'\n{text.rstrip()}\nEDGESIGHT_EOF")
    parts += [f"chmod 700 {q(rel + '/run.sh')} {q(rel + '/edgesight')}", f"touch {q(rel + '/.complete')}"]
    return "\n".join(parts) + "\n"


def shell_path(path: str) -> str:
    """A device path as a shell word: ``~/x`` becomes ``"$HOME"/x`` (expanded there), the rest quoted."""
    if path == "~":
        return '"$HOME"'
    return f'"$HOME"/{q(path[2:])}' if path.startswith("~/") else q(path)


def link_command(layout: Layout, bin_dir: str) -> str:
    """``BIN/edgesight`` -> ``ROOT/current/edgesight``: through ``current``, so a switch or a rollback
    moves it too. Prints the link."""
    folder = shell_path(bin_dir.rstrip("/") or "/")
    return f"""set -e
mkdir -p {folder}
ln -sfn {q(layout.current + "/edgesight")} {folder}/edgesight.new
{RENAME} {folder}/edgesight.new {folder}/edgesight
echo {folder}/edgesight
"""


def smoke(layout: Layout, rid: str, venv_key: str, model_name: str, spec_args: list[str]) -> str:
    """The new environment imports edge and loads the model (``edgesight info``) before any switch."""
    rel = q(layout.release(rid))
    args = " ".join(q(a) for a in spec_args)
    python = q(layout.venv(venv_key) + "/bin/python")
    return f"cd {rel} && PYTHONPATH={rel} {python} -m edge.cli info model/{q(model_name)} {args} >/dev/null\n"
