"""edgesight deploy against a real OpenSSH server (sshd as the test's own user on a loopback port) into
a temporary folder: files synced, environment made from a wheelhouse, checksum verified, the service
started (directly: systemd is not running here; the unit file is checked), a failing health check
rolled back, an interrupted deploy leaving the previous version running, --status, --logs, --rollback,
--dry-run and --stop."""

import configparser
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from edge.deploy.probe import Device, choose_interpreter, parse_probe
from edge.deploy.ssh import mask
from edge.errors import EdgeError
from tests.conftest import ASSETS, ROOT, free_port, needs_peer, run_cli, start_cli, stop, wait_for
from tests.sshd import HOST, SSHD, start_sshd

MODEL = ASSETS / "models/classification/mobilenet_v1_0.25_224_quant.tflite"
LABELS = ASSETS / "models/classification/labels.txt"
FLOAT = ASSETS / "models/classification/mobilenet_v1_0.25_224_1_metadata_1.tflite"
TOKEN = "deploy-s3cret"

needs_ssh = needs_peer(
    not (Path(SSHD).exists() and shutil.which("rsync") and shutil.which("ssh")),
    reason="needs sshd, ssh and rsync (make test installs openssh-server and rsync)",
)


def healthz(port: int) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=3) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except OSError:
        return 0, {}


def wheelhouse(out: Path, interpreter: str) -> Path:
    done = subprocess.run(
        [
            sys.executable,
            ROOT / "tools/build_wheelhouse.py",
            out,
            "--arch",
            "x86_64",
            "--interpreter",
            interpreter,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def device(assets, tmp_path_factory):
    """sshd on a loopback port, a deploy folder, wheelhouses for both interpreters and a serve port."""
    if os.uname().machine != "x86_64":
        pytest.skip("the test wheelhouse is built for x86_64")
    base = tmp_path_factory.mktemp("device")
    server = start_sshd(base / "ssh")
    info = {
        "config": server.config,
        "root": base / "home" / "edgesight",
        "wheels": wheelhouse(base / "wheels", "litert"),
        "tflrt_wheels": wheelhouse(base / "wheels-tflrt", "tflite-runtime"),
        "port": free_port(),
        "bin": base / "bin",
    }
    yield info
    run_cli(*target(info), "--stop")
    server.process.terminate()
    server.process.wait(timeout=10)


def target(device, root=None) -> list:
    """``deploy`` to the loopback sshd, into the test's folder (the edgesight command too)."""
    folder = root or device["root"]
    return [
        "deploy",
        HOST,
        "--ssh-config",
        device["config"],
        "--remote-dir",
        folder,
        "--bin-dir",
        device["bin"],
    ]


def on_device(device, *command: str) -> subprocess.CompletedProcess:
    """A command over the same ssh the deploy used, as a person on the device would type it."""
    return subprocess.run(
        ["ssh", "-F", str(device["config"]), HOST, *command], capture_output=True, text=True, timeout=120
    )


def token_in_process_list() -> list[str]:
    """Every process whose command line holds the token (what any user of the device can read)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if TOKEN.encode() in cmdline.read_bytes():
                found.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # the process ended meanwhile
            pass
    return found


def deploy(device, *args, timeout=600):
    return run_cli(*target(device), *args, timeout=timeout)


def live_args(device) -> list[str]:
    return [
        "--source",
        "synthetic",
        "--realtime",
        "--frames",
        "1000000",
        "--serve",
        f"127.0.0.1:{device['port']}",
        "--token",
        TOKEN,
    ]


def current(device) -> str:
    return os.readlink(device["root"] / "current")


@needs_ssh
def test_a_deploy_syncs_verifies_installs_and_starts_the_service(device):
    done = deploy(
        device,
        "--model",
        MODEL,
        "--labels",
        LABELS,
        "--wheelhouse",
        device["wheels"],
        "--service",
        *live_args(device),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "healthy" in done.stdout and TOKEN not in done.stdout + done.stderr
    root = device["root"]
    release = root / current(device)
    assert (release / ".complete").exists() and (release / "edge/cli.py").is_file()
    assert not list(root.rglob("train")) and not list(root.rglob("tensorflow"))  # the edge package only
    assert (release / "model" / MODEL.name).read_bytes() == MODEL.read_bytes()
    assert (release / "model" / LABELS.name).read_text() == LABELS.read_text()
    record = json.loads((release / "release.json").read_text())
    assert record["sha256"] == hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert record["args"][record["args"].index("--labels") + 1] == f"model/{LABELS.name}"
    assert (root / "venvs" / record["environment"] / ".complete").exists()
    # The token reaches the process through secrets.env (mode 600), never its command line.
    assert oct((release / "secrets.env").stat().st_mode & 0o777) == "0o600"
    assert TOKEN in (release / "secrets.env").read_text()
    assert all(TOKEN not in (release / name).read_text() for name in ("run.sh", "release.json", "edgesight"))
    # the unit file a systemd device gets; here systemd is not running, so the same command started directly
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((root / "edgesight.service").read_text())
    assert unit["Service"]["ExecStart"].strip('"') == f"{root}/current/run.sh"
    assert unit["Service"]["Restart"] == "on-failure" and unit["Install"]["WantedBy"] == "default.target"
    assert (root / "mode").read_text().strip() == "direct"
    pid = int((root / "run.pid").read_text())
    assert b"edge.cli\x00run" in Path(f"/proc/{pid}/cmdline").read_bytes()
    status, body = healthz(device["port"])
    assert status == 200 and body["frames"] > 0
    assert token_in_process_list() == []


@needs_ssh
def test_the_edgesight_command_on_the_device_runs_the_current_release(device):
    link = device["bin"] / "edgesight"
    assert link.is_symlink() and os.readlink(link) == str(device["root"] / "current" / "edgesight")
    release = device["root"] / current(device)
    assert link.resolve() == (release / "edgesight").resolve()
    model = release / "model" / MODEL.name
    # a person on the device: the command on PATH, from their home folder, on the deployed model
    done = on_device(device, f"PATH={device['bin']}:$PATH", "edgesight", "info", str(model))
    assert done.returncode == 0 and "task: classify" in done.stdout, done.stdout + done.stderr
    done = on_device(device, str(link), "bench", str(model), "--runs", "5", "--warmup", "1")
    assert done.returncode == 0 and "p50 ms" in done.stdout, done.stdout + done.stderr
    done = on_device(device, str(link), "train", "shapes", "--out", "x")
    assert done.returncode == 2 and "runs on the desktop" in done.stderr


@needs_ssh
def test_status_and_logs(device):
    done = deploy(device, "--status")
    assert done.returncode == 0, done.stderr
    assert os.path.basename(current(device)) in done.stdout and "running (pid" in done.stdout
    assert "health: ok" in done.stdout and TOKEN not in done.stdout
    done = deploy(device, "--logs", "--lines", "20")
    assert done.returncode == 0 and "serving http://127.0.0.1" in done.stdout


@needs_ssh
def test_bench_on_the_device_from_the_desktop_then_compare(device, tmp_path):
    """Two commands: the bench runs on the device (in the environment the deploy made) and its record
    comes back; then it is compared with this machine's."""
    device_json, local_json = tmp_path / "pi.json", tmp_path / "laptop.json"
    image = ASSETS / "images" / "burger.jpg"
    ssh = ["--ssh-config", device["config"], "--remote-dir", device["root"], "--wheelhouse", device["wheels"]]
    options = ["--image", image, "--runs", "20"]
    done = run_cli("bench", "--on", HOST, *ssh, MODEL, *options, "--json", device_json)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "environment reused" in done.stdout and f"record written to {device_json}" in done.stdout
    assert "p50 ms" in done.stdout  # the device's own report, streamed here
    record = json.loads(device_json.read_text())
    assert record["results"][0]["runs"] == 20 and record["results"][0]["p50_ms"] > 0
    assert "inputs/burger.jpg" in record["settings"]["input"]
    assert record["model"]["sha256"] == hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert run_cli("bench", MODEL, *options, "--json", local_json).returncode == 0
    done = run_cli("bench", "--compare", local_json, device_json)
    assert done.returncode == 0 and "x" in done.stdout, done.stderr
    done = run_cli("bench", "--on", HOST, *ssh, tmp_path / "missing.tflite")
    assert done.returncode == 2 and "model not found" in done.stderr


@needs_ssh
def test_a_failing_health_check_rolls_back(device):
    before = current(device)
    done = deploy(
        device,
        "--model",
        FLOAT,
        "--wheelhouse",
        device["wheels"],
        "--service",
        "--health-timeout",
        "20",
        "--source",
        "/nonexistent/clip.mp4",
        "--serve",
        f"127.0.0.1:{device['port']}",
        "--token",
        TOKEN,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "health check failed" in done.stdout and "unknown source" in done.stdout
    assert f"rolled back to {os.path.basename(before)}: healthy" in done.stdout
    assert current(device) == before
    assert wait_for(lambda: healthz(device["port"])[0] == 200, timeout=20)
    failed = [r for r in (device["root"] / "releases").iterdir() if not (r / ".complete").exists()]
    assert len(failed) == 1 and not (device["root"] / "previous").exists()


@needs_ssh
def test_an_interrupted_deploy_leaves_the_previous_version_running(device):
    before = current(device)
    proc = start_cli(
        *target(device),
        "--model",
        FLOAT,
        "--interpreter",
        "tflite-runtime",
        "--wheelhouse",
        device["tflrt_wheels"],
        "--service",
        *live_args(device),
    )
    lines: list[str] = []
    # interrupted while the new environment is being made (a new one: another interpreter)
    assert wait_for(
        lambda: lines.append(proc.stdout.readline()) or "environment py" in lines[-1], timeout=120
    )
    out, err, _ = stop(proc, signal.SIGINT, timeout=60)
    assert proc.returncode == 130, "".join(lines) + out + err
    assert current(device) == before
    status, body = healthz(device["port"])
    assert status == 200 and body["frames"] > 0
    newest = sorted((device["root"] / "releases").iterdir())[-1]
    assert not (newest / ".complete").exists()


@needs_ssh
def test_a_new_release_then_rollback(device):
    first = current(device)
    done = deploy(device, "--model", FLOAT, "--wheelhouse", device["wheels"], "--service", *live_args(device))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "environment reused" in done.stdout
    second = current(device)
    assert second != first and os.readlink(device["root"] / "previous") == first
    # releases an earlier deploy left incomplete (the interrupted and the failed one) are gone
    assert all((r / ".complete").exists() for r in (device["root"] / "releases").iterdir())
    done = deploy(device, "--rollback")
    assert done.returncode == 0 and "healthy" in done.stdout, done.stdout + done.stderr
    assert current(device) == first and os.readlink(device["root"] / "previous") == second
    assert healthz(device["port"])[0] == 200
    # the edgesight command moved back with the rollback
    assert (device["bin"] / "edgesight").resolve() == (device["root"] / first / "edgesight").resolve()


@needs_ssh
def test_a_dry_run_prints_every_command_and_changes_nothing(device):
    tree = sorted(str(p) for p in device["root"].rglob("*") if "venvs" not in p.parts)
    done = deploy(device, "--model", MODEL, "--service", "--dry-run", *live_args(device))
    assert done.returncode == 0, done.stderr
    assert "$ rsync" in done.stdout and "$ ssh" in done.stdout and "python3 -m venv" in done.stdout
    assert "***" in done.stdout and TOKEN not in done.stdout
    assert sorted(str(p) for p in device["root"].rglob("*") if "venvs" not in p.parts) == tree


@needs_ssh
def test_bad_input_is_one_line_and_exit_2(device, tmp_path):
    closed = free_port()
    done = run_cli("deploy", "nobody@127.0.0.1", "--port", str(closed), "--model", MODEL, "--source", "0")
    assert done.returncode == 2 and "cannot reach nobody@127.0.0.1 over ssh" in done.stderr
    done = deploy(device, "--model", tmp_path / "missing.tflite", "--source", "0")
    assert done.returncode == 2 and "model not found" in done.stderr
    done = deploy(device, "--model", MODEL, "--mode", "sideways")
    assert done.returncode == 2 and "not valid for 'edgesight run'" in done.stderr
    assert "invalid choice: 'sideways'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


@needs_ssh
def test_stop(device):
    pid = int((device["root"] / "run.pid").read_text())
    done = deploy(device, "--stop")
    assert done.returncode == 0 and "stopped" in done.stdout
    assert wait_for(
        lambda: (
            not Path(f"/proc/{pid}").exists() or b"Z" in Path(f"/proc/{pid}/stat").read_bytes().split()[2]
        ),
        timeout=15,
    )
    assert healthz(device["port"])[0] == 0


@needs_ssh
def test_the_ansible_playbook_deploys_and_rolls_back_the_same_way(device, tmp_path):
    playbook = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent))
    assert playbook, "ansible-core is in the dev extras"
    root, port = tmp_path / "fleet" / "edgesight", free_port()
    config = device["config"]
    ssh = f"-F {config}"
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        json.dumps(  # JSON is YAML
            {
                "edgesight": {
                    "hosts": {
                        HOST: {"ansible_ssh_common_args": ssh, "ansible_remote_tmp": str(tmp_path / "rtmp")}
                    },
                    "vars": {
                        "ansible_python_interpreter": "/usr/bin/python3",
                        "edgesight_root": str(root),
                        "edgesight_model": str(MODEL),
                        "edgesight_files": [str(LABELS)],
                        "edgesight_wheelhouse": str(device["wheels"]),
                        "edgesight_health_timeout": 20,
                        "edgesight_bin_dir": str(tmp_path / "bin"),
                        "edgesight_run_args": [
                            "--labels",
                            f"model/{LABELS.name}",
                            "--source",
                            "synthetic",
                            "--realtime",
                            "--frames",
                            "1000000",
                            "--serve",
                            f"127.0.0.1:{port}",
                            "--token",
                            TOKEN,
                        ],
                    },
                }
            }
        )
    )
    env = {
        **os.environ,
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ltmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
    }

    def play(*extra):
        return subprocess.run(
            [playbook, "-i", inventory, ROOT / "tools/ansible/deploy.yml", *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )

    try:
        done = play()
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        assert TOKEN not in done.stdout
        copied = done.stdout.split("TASK [Unpack the wheelhouse]", 1)[1].split("TASK [", 1)[0]
        assert "changed:" in copied, copied  # a new device: the wheelhouse is sent
        status, body = healthz(port)
        assert status == 200 and body["frames"] > 0
        assert token_in_process_list() == []
        first = os.readlink(root / "current")
        # the CLI reads what the playbook wrote: one layout
        status_cli = run_cli(*target(device, root), "--status")
        assert status_cli.returncode == 0 and os.path.basename(first) in status_cli.stdout
        bad = json.dumps(
            {
                "edgesight_run_args": [
                    "--source",
                    "/nonexistent/clip.mp4",
                    "--serve",
                    f"127.0.0.1:{port}",
                    "--token",
                    TOKEN,
                ],
                "edgesight_health_timeout": 10,
            }
        )
        done = play("-e", bad)
        assert done.returncode != 0 and "rescued=1" in done.stdout, done.stdout[-3000:]
        copied = done.stdout.split("TASK [Unpack the wheelhouse]", 1)[1].split("TASK [", 1)[0]
        assert "skipping:" in copied, copied  # the environment was made: the wheelhouse is not sent again
        assert os.readlink(root / "current") == first and healthz(port)[0] == 200
    finally:
        run_cli(*target(device, root), "--stop")


PI = """arch=aarch64
os=Debian GNU/Linux 12 (bookworm)
board=Raspberry Pi 4 Model B Rev 1.4
python=/usr/bin/python3
python_version=3.11
venv=yes
free_mb=20000
cameras=/dev/video0 /dev/video10
libcamera=yes
picamera2=yes
rsync=yes
systemd_user=yes
user=pi
"""


def test_the_probe_and_the_interpreter_it_picks():
    pi = parse_probe(PI)
    assert (
        pi.arch == "aarch64"
        and pi.python_version == (3, 11)
        and pi.cameras == ("/dev/video0", "/dev/video10")
    )
    assert pi.picamera2 and pi.systemd_user and "Raspberry Pi 4" in pi.lines()[0]
    assert choose_interpreter(pi) == "litert"
    assert choose_interpreter(pi, "tflite-runtime") == "tflite-runtime"
    old = parse_probe(PI.replace("python_version=3.11", "python_version=3.8"))
    assert choose_interpreter(old) == "tflite-runtime"
    for change, message in (
        (("arch=aarch64", "arch=armv7l"), "no TFLite interpreter wheel"),
        (("venv=yes", "venv=no"), "python3-venv"),
        (("rsync=yes", "rsync=no"), "no rsync"),
        (("free_mb=20000", "free_mb=100"), "100 MB free"),
        (("python_version=3.11", "python_version="), "no python3"),
    ):
        with pytest.raises(EdgeError, match=message):
            choose_interpreter(parse_probe(PI.replace(*change)))
    assert isinstance(pi, Device)


def test_secrets_are_masked():
    assert mask("run m --token abc --x") == "run m --token *** --x"
    assert mask("--token='a b' y") == "--token=*** y"
    assert mask('"token": "zz9"', ("zz9",)) == '"token": "***"'
