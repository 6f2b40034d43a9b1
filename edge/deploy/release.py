"""The layout on the device and the shell scripts that change it.

    ROOT/releases/ID/{edge/, model/NAME.tflite, run.sh, release.json, .complete}
    ROOT/venvs/KEY/            one per (Python, interpreter, requirements), reused while they hold
    ROOT/wheelhouse/           with --wheelhouse: what pip installs from, offline
    ROOT/current -> releases/ID, ROOT/previous -> releases/OLD (switched with an atomic rename)
    ROOT/NAME.service          the systemd user unit (also under ~/.config/systemd/user with --service)
    ROOT/mode                  "systemd" or "direct" (started with nohup where systemd is not running)
    ROOT/logs/run.log, ROOT/run.pid   in direct mode

A release is complete once ``.complete`` exists; only complete releases are ever switched to, and a
deploy that stops early leaves the running one alone.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

HEALTH = r"""
import json, os, subprocess, sys, time, urllib.request
mode, name, pid_file, url, timeout, settle = sys.argv[1:7]
token = os.environ.get("EDGESIGHT_TOKEN", "")
timeout, settle = float(timeout), float(settle)

def alive():
    if mode == "systemd":
        return subprocess.run(["systemctl", "--user", "is-active", "--quiet", name]).returncode == 0
    try:
        os.kill(int(open(pid_file).read().split()[0]), 0)
        return True
    except (OSError, ValueError, IndexError):
        return False

def healthz():
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except Exception:
        return None, {}

start = time.time()
last = "not started"
while time.time() - start < timeout:
    if not alive():
        last = "the process is not running"
        if time.time() - start > 2:
            break
    elif url:
        status, body = healthz()
        if status == 200 and body.get("frames", 0) > 0:
            took = round(time.time() - start, 1)
            print(json.dumps({"ok": True, "frames": body["frames"], "seconds": took}))
            sys.exit(0)
        last = "/healthz answered %s" % (status if status else "nothing")
    elif time.time() - start >= settle:
        print(json.dumps({"ok": True, "frames": None, "seconds": round(time.time() - start, 1)}))
        sys.exit(0)
    time.sleep(0.5)
print(json.dumps({"ok": False, "reason": last}))
sys.exit(1)
"""


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
    """run.sh: the release's ``edgesight run`` command, from its own folder and environment; its own
    arguments are added (``run.sh --stats``)."""
    command = " ".join(q(a) for a in args)
    return f"""#!/bin/sh
# edgesight release {rid}
cd "$(dirname "$0")" || exit 1
export PYTHONPATH="$PWD"
exec {q(layout.venv(venv_key) + "/bin/python")} -m edge.cli run model/{q(model_name)} {command} "$@"
"""


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
    layout: Layout, rid: str, venv_key: str, model_name: str, args: list[str]
) -> dict[str, str]:
    """run.sh and the unit, by file name."""
    return {
        "run.sh": run_script(layout, venv_key, model_name, args, rid),
        f"{layout.name}.service": unit_file(layout, f"{model_name} ({rid})"),
    }


def write_release(layout: Layout, rid: str, files: dict[str, str], record: dict) -> str:
    """Writes run.sh, release.json (mode 600: they may hold a --token) and marks the release complete."""
    rel = layout.release(rid)
    parts = ["set -e", "umask 077"]
    for name, text in {**files, "release.json": json.dumps(record, indent=1) + "\n"}.items():
        parts.append(f"cat > {q(rel + '/' + name)} <<'EDGESIGHT_EOF'\n{text.rstrip()}\nEDGESIGHT_EOF")
    parts += [f"chmod 700 {q(rel + '/run.sh')}", f"touch {q(rel + '/.complete')}"]
    return "\n".join(parts) + "\n"


def smoke(layout: Layout, rid: str, venv_key: str, model_name: str, spec_args: list[str]) -> str:
    """The new environment imports edge and loads the model (``edgesight info``) before any switch."""
    rel = q(layout.release(rid))
    args = " ".join(q(a) for a in spec_args)
    python = q(layout.venv(venv_key) + "/bin/python")
    return f"cd {rel} && PYTHONPATH={rel} {python} -m edge.cli info model/{q(model_name)} {args} >/dev/null\n"


def _stop(layout: Layout) -> str:
    return f"""if [ "$(cat {q(layout.root)}/mode 2>/dev/null)" = systemd ]; then
  systemctl --user stop {q(layout.name)} 2>/dev/null || true
elif [ -f {q(layout.pid_file)} ]; then
  pid=$(cat {q(layout.pid_file)})
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"; i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f {q(layout.pid_file)}
fi
"""


def _start(layout: Layout, systemd: bool) -> str:
    if systemd:
        return f"""mkdir -p "$HOME/.config/systemd/user"
cp {q(layout.unit_path)} "$HOME/.config/systemd/user/{layout.name}.service"
systemctl --user daemon-reload
systemctl --user enable {q(layout.name)} >/dev/null 2>&1 || true
systemctl --user restart {q(layout.name)}
echo systemd > {q(layout.root)}/mode
"""
    return f"""cd {q(layout.root)}
nohup setsid {q(layout.current + "/run.sh")} >> {q(layout.log_file)} 2>&1 < /dev/null &
echo $! > {q(layout.pid_file)}
echo direct > {q(layout.root)}/mode
"""


RENAME = "python3 -c 'import os, sys; os.replace(sys.argv[1], sys.argv[2])'"


def _point(link: str, target: str) -> str:
    """Point the symlink ``link`` at ``target`` (a quoted shell word) with one rename(2): atomic, and
    unlike ``mv`` it replaces the link rather than moving into the folder it points to."""
    return f"ln -sfn {target} {q(link + '.new')} && {RENAME} {q(link + '.new')} {q(link)}\n"


def switch(layout: Layout, rid: str, start: bool, systemd: bool) -> str:
    """Make ``rid`` current (the old current becomes previous); with ``start``, stop the running
    service first and start the new one. Ignores hang-ups and Ctrl-C so that a dropped connection
    cannot leave it half done."""
    out = ["trap '' HUP INT TERM", "set -e", f"old=$(readlink {q(layout.current)} 2>/dev/null || true)"]
    if start:
        out.append(_stop(layout))
    out.append(_point(layout.current, q(f"releases/{rid}")))
    previous = _point(layout.root + "/previous", '"$old"').strip()
    out.append(f'if [ -n "$old" ] && [ "$old" != releases/{rid} ]; then {previous}; fi')
    if start:
        out.append(_start(layout, systemd))
    return "\n".join(out) + "\n"


def restart(layout: Layout, systemd: bool) -> str:
    return "trap '' HUP INT TERM\n" + _stop(layout) + _start(layout, systemd)


def revert(layout: Layout, systemd: bool) -> str:
    """After a failed health check: back to ``previous``, restarted; the failed release is no longer
    complete (the next deploy removes it) and no longer anyone's ``previous``."""
    root = q(layout.root)
    return "\n".join(
        [
            "trap '' HUP INT TERM",
            "set -e",
            f"cd {root}",
            "failed=$(readlink current); old=$(readlink previous || true)",
            '[ -n "$old" ] || { echo "no previous release to go back to" >&2; exit 1; }',
            _stop(layout),
            _point(layout.current, '"$old"').strip(),
            'rm -f previous "$failed/.complete"',
            _start(layout, systemd),
        ]
    )


def last_error(layout: Layout, systemd: bool) -> str:
    """The service's last ``edgesight: error`` line, if any."""
    source = (
        f"journalctl --user -u {q(layout.name)} -n 200 --no-pager 2>/dev/null"
        if systemd
        else f"tail -n 200 {q(layout.log_file)} 2>/dev/null"
    )
    return f"{source} | grep 'edgesight: error' | tail -n 1\n"


def stop(layout: Layout) -> str:
    return _stop(layout)


def health(layout: Layout, systemd: bool, url: str, token: str, timeout: float, settle: float) -> str:
    """Polls until the service is up and (with --serve) /healthz reports results; one JSON line."""
    mode = "systemd" if systemd else "direct"
    args = " ".join(q(a) for a in (mode, layout.name, layout.pid_file, url, str(timeout), str(settle)))
    # the token goes in the environment (readable by this user only), not in a process's arguments
    return f"EDGESIGHT_TOKEN={q(token)} python3 - {args} <<'EDGESIGHT_EOF'\n{HEALTH.strip()}\nEDGESIGHT_EOF\n"


def status(layout: Layout) -> str:
    """Read-only: the links, the mode, the releases and the service's state, as KEY=VALUE lines."""
    return f"""ROOT={q(layout.root)}
cd "$ROOT" 2>/dev/null || {{ echo "state=absent"; exit 0; }}
echo "current=$(readlink current 2>/dev/null)"
echo "previous=$(readlink previous 2>/dev/null)"
echo "mode=$(cat mode 2>/dev/null)"
echo "releases=$(ls releases 2>/dev/null | tr '\\n' ' ')"
if [ "$(cat mode 2>/dev/null)" = systemd ]; then
  echo "state=$(systemctl --user is-active {q(layout.name)} 2>/dev/null)"
elif [ -f run.pid ] && kill -0 "$(cat run.pid)" 2>/dev/null; then echo "state=running (pid $(cat run.pid))"
else echo "state=stopped"; fi
"""


def logs(layout: Layout, lines: int) -> str:
    """Read-only: the service's last ``lines`` lines, from the journal under systemd, else logs/run.log."""
    return f"""if [ "$(cat {q(layout.root)}/mode 2>/dev/null)" = systemd ]; then
  journalctl --user -u {q(layout.name)} -n {int(lines)} --no-pager
else tail -n {int(lines)} {q(layout.log_file)} 2>/dev/null || echo "no log yet at {layout.log_file}"; fi
"""
