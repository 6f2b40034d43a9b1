"""The scripts that run, stop, switch and check the service on the device (see ``release`` for the
layout): a systemd user unit where systemd runs, else the same ``run.sh`` started with nohup."""

from __future__ import annotations

from edge.deploy.release import RENAME, Layout, q

HEALTH = r"""
import json, os, shlex, subprocess, sys, time, urllib.request
mode, name, pid_file, release, timeout, settle = sys.argv[1:7]
timeout, settle = float(timeout), float(settle)
try:
    with open(os.path.join(release, "release.json")) as f:
        url = json.load(f).get("health_url", "")
except (OSError, ValueError):
    url = ""
token = ""
try:
    with open(os.path.join(release, "secrets.env")) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key == "EDGESIGHT_TOKEN" and value:
                token = shlex.split(value)[0]
except (OSError, ValueError):
    pass

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


def health(layout: Layout, systemd: bool, timeout: float, settle: float) -> str:
    """Polls until the current release's service is up and (with --serve) its /healthz reports
    results; one JSON line. The URL comes from the release's release.json and the token from its
    secrets.env, read on the device: never on a command line."""
    mode = "systemd" if systemd else "direct"
    argv = (mode, layout.name, layout.pid_file, layout.current, str(timeout), str(settle))
    args = " ".join(q(a) for a in argv)
    return f"python3 - {args} <<'EDGESIGHT_EOF'\n{HEALTH.strip()}\nEDGESIGHT_EOF\n"


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
