"""An emulated Raspberry Pi: deploy with the real command, then compare results with this machine.

    sudo .venv/bin/python tools/pi_check.py [--rootfs runs/pi-rootfs] [--model M.tflite] [--frames 30]

Builds (once) or reuses a Debian 12 arm64 root filesystem with debootstrap, runs it through
qemu-user-static and binfmt (QEMU_CPU=cortex-a72, and ../shared/pi/cpuinfo-pi4 over /proc/cpuinfo, as
a Pi 4 shows it), starts sshd inside on a loopback port, deploys the model with ``edgesight deploy``
for ai-edge-litert and for tflite-runtime 2.14 (wheels from tools/build_wheelhouse.py, installed
offline), runs ``edgesight run`` on the synthetic source over SSH and compares every frame's classes
with the same run on this machine's interpreters. Prints one verdict line; exit 0 when every frame
agrees, 1 when one does not, 2 when the check cannot run (not root, no network for debootstrap ...).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testbed import free_port  # noqa: E402

CPUINFO = ROOT.parent / "shared/pi/cpuinfo-pi4"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = "python3,python3-venv,openssh-server,rsync,ca-certificates,procps,libgl1,libglib2.0-0"
READY = ".edgesight-rootfs"
HOST = "edgesight-pi"
QEMU = {"QEMU_CPU": "cortex-a72"}
SCORE_TOLERANCE = 1 / 255 + 1e-6  # one step of a uint8 output


class CheckError(Exception):
    pass


def sh(*argv, check: bool = True, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)
    if check and done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise CheckError(f"{' '.join(map(str, argv[:3]))} failed: {' | '.join(tail)}")
    return done


def binfmt() -> None:
    """qemu-aarch64 registered with binfmt_misc (the F flag: usable inside a chroot)."""
    entry = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    if not Path("/proc/sys/fs/binfmt_misc/status").exists():
        sh("mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc", check=False)
    if (not entry.exists() or "enabled" not in entry.read_text()) and shutil.which("update-binfmts"):
        sh("update-binfmts", "--enable", "qemu-aarch64", check=False)
    if not entry.exists() or "enabled" not in entry.read_text():
        raise CheckError(
            "qemu-aarch64 is not registered with binfmt_misc: apt install qemu-user-static binfmt-support"
        )


def rootfs(path: Path) -> None:
    if (path / READY).exists():
        print(f"pi-check: reusing the root filesystem in {path}", flush=True)
        return
    if not shutil.which("debootstrap"):
        raise CheckError("debootstrap is not installed: apt install debootstrap")
    print(f"pi-check: debootstrap of Debian 12 arm64 into {path} (once; minutes under emulation)", flush=True)
    shutil.rmtree(path, ignore_errors=True)
    sh(
        "debootstrap",
        "--arch=arm64",
        "--variant=minbase",
        f"--include={PACKAGES}",
        "bookworm",
        path,
        MIRROR,
        env={**os.environ, **QEMU},
    )
    (path / READY).write_text("debootstrap bookworm arm64\n")


@contextlib.contextmanager
def mounted(path: Path):
    """/proc (with a Pi 4's cpuinfo on top), /dev and /dev/pts inside the root filesystem."""
    done: list[Path] = []
    try:
        for source, target, options in (
            ("proc", path / "proc", ["-t", "proc"]),
            (CPUINFO, path / "proc/cpuinfo", ["--bind"]),
            ("/dev", path / "dev", ["--bind"]),
            ("/dev/pts", path / "dev/pts", ["--bind"]),
        ):
            sh("mount", *options, source, target)
            done.append(target)
        yield
    finally:
        for target in reversed(done):
            sh("umount", "-l", target, check=False)


@contextlib.contextmanager
def sshd(path: Path, work: Path):
    """sshd inside the root filesystem on a free loopback port; yields the client's ssh config."""
    keys = path / "etc/edgesight-sshd"
    keys.mkdir(parents=True, exist_ok=True)
    for name in ("host", "client"):
        if not (keys / name).exists():
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keys / name)
    (path / "root/.ssh").mkdir(parents=True, exist_ok=True)
    (path / "root/.ssh/authorized_keys").write_text((keys / "client.pub").read_text())
    (path / "run/sshd").mkdir(parents=True, exist_ok=True)
    port = free_port()
    (keys / "sshd_config").write_text(
        f"""Port {port}
ListenAddress 127.0.0.1
HostKey /etc/edgesight-sshd/host
PidFile /run/edgesight-sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
SetEnv QEMU_CPU=cortex-a72
"""
    )
    config = work / "ssh_config"
    shutil.copy(keys / "client", work / "client")
    os.chmod(work / "client", 0o600)
    config.write_text(
        f"""Host {HOST}
  HostName 127.0.0.1
  Port {port}
  User root
  IdentityFile {work}/client
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
"""
    )
    proc = subprocess.Popen(
        ["chroot", str(path), "/usr/sbin/sshd", "-D", "-e", "-f", "/etc/edgesight-sshd/sshd_config"],
        env={**os.environ, **QEMU},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + 120
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise CheckError(f"sshd in the root filesystem exited: {proc.stderr.read().strip()}")
            if sh("ssh", "-F", config, HOST, "true", check=False, timeout=60).returncode == 0:
                break
            time.sleep(1)
        else:
            raise CheckError("sshd in the root filesystem did not answer within 120 s")
        yield config
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def frames(jsonl: str) -> list[list[tuple[str, float]]]:
    out = []
    for line in jsonl.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            out.append([(c["label"], c["score"]) for c in record["classes"]])
    return out


def runtime_label(stderr: str) -> str:
    """``litert 2.3.0, 1 thread`` from the run's first summary line."""
    for line in stderr.splitlines():
        if " on synthetic (" in line:
            return line.rsplit("(", 1)[-1].rstrip(")")
    return "?"


def agree(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> bool:
    """Same top-1 label, and every class's score within one uint8 step."""
    if not a or not b or a[0][0] != b[0][0]:
        return False
    scores_b = dict(b)
    return all(abs(score - scores_b.get(label, -1.0)) <= SCORE_TOLERANCE for label, score in a)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rootfs", type=Path, default=ROOT / "runs/pi-rootfs")
    parser.add_argument("--model", type=Path, default=ROOT / "runs/demo/models/model_int8.tflite")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--tflrt-python", type=Path, default=ROOT / ".venv-tflrt/bin/python")
    args = parser.parse_args()
    run_args = ["--source", "synthetic", "--frames", str(args.frames), "--seed", "0", "--threads", "1"]
    work = ROOT / "runs/pi-check"
    try:
        if os.geteuid() != 0:
            raise CheckError("needs root (debootstrap, chroot, mount): sudo make pi-check")
        if not args.model.is_file():
            raise CheckError(f"model not found: {args.model} (make demo writes it)")
        if not CPUINFO.is_file():
            raise CheckError(f"the Pi's cpuinfo is not at {CPUINFO}")
        work.mkdir(parents=True, exist_ok=True)
        binfmt()
        rootfs(args.rootfs)
        results = {}
        with mounted(args.rootfs), sshd(args.rootfs, work) as config:
            seen = sh("ssh", "-F", config, HOST, "uname -m; grep -m1 Model /proc/cpuinfo").stdout.split("\n")
            print(
                f"pi-check: {seen[0]} over ssh, {seen[1].split(':', 1)[-1].strip()} (QEMU_CPU=cortex-a72)",
                flush=True,
            )
            for interpreter, host_python in (
                ("litert", sys.executable),
                ("tflite-runtime", args.tflrt_python),
            ):
                wheels = work / f"wheels-{interpreter}"
                sh(sys.executable, ROOT / "tools/build_wheelhouse.py", wheels, "--interpreter", interpreter)
                remote_dir = f"/root/edgesight-{interpreter}"
                print(f"pi-check: edgesight deploy ({interpreter}) ...", flush=True)
                deployed = sh(
                    sys.executable,
                    "-m",
                    "edge.cli",
                    "deploy",
                    HOST,
                    "--ssh-config",
                    config,
                    "--remote-dir",
                    remote_dir,
                    "--model",
                    args.model,
                    "--interpreter",
                    interpreter,
                    "--wheelhouse",
                    wheels,
                    *run_args,
                    cwd=ROOT,
                )
                print("\n".join(f"  {line}" for line in deployed.stdout.strip().splitlines()), flush=True)
                device = sh("ssh", "-F", config, HOST, f"{remote_dir}/current/run.sh --jsonl -", timeout=1800)
                host = sh(
                    host_python, "-m", "edge.cli", "run", args.model, *run_args, "--jsonl", "-", cwd=ROOT
                )
                bench_json = work / f"bench-{interpreter}.json"
                ssh_args = ["--ssh-config", config, "--remote-dir", remote_dir, "--interpreter", interpreter]
                timing = ["--threads", "1", "--runs", "20", "--warmup", "3", "--json", bench_json]
                bench = [sys.executable, "-m", "edge.cli", "bench", args.model, "--on", HOST]
                sh(*bench, *ssh_args, "--wheelhouse", wheels, *timing, cwd=ROOT, timeout=1800)
                timed = json.loads(bench_json.read_text())["results"]
                timed = timed[0] if isinstance(timed, list) else timed
                print(
                    f"pi-check: {interpreter}: edgesight bench --on: p50 {timed['p50_ms']:.2f} ms under "
                    "EMULATION (qemu-user on x86; not a Pi's speed)",
                    flush=True,
                )
                a, b = frames(device.stdout), frames(host.stdout)
                same = sum(agree(x, y) for x, y in zip(a, b))
                results[interpreter] = (same, len(b), len(a))
                print(
                    f"pi-check: {interpreter}: {same} of {len(b)} frames agree (device gave {len(a)}); "
                    f"device: {runtime_label(device.stderr)}, host: {runtime_label(host.stderr)}",
                    flush=True,
                )
    except CheckError as exc:
        print(f"pi-check: error: {exc}", file=sys.stderr)
        return 2
    ok = all(same == total == got and total > 0 for same, total, got in results.values())
    parts = ", ".join(f"{name} {same}/{total}" for name, (same, total, _) in results.items())
    print(
        f"pi-check: {'PASS' if ok else 'FAIL'}: emulated aarch64 Pi 4 (Debian 12, Cortex-A72) against this "
        f"machine, frames with the same classes: {parts}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
