"""The edge tests under every Python that Raspberry Pi OS ships, on the Debian release that ships it:
Debian 11 (Bullseye, Python 3.9), 12 (Bookworm, 3.11) and 13 (Trixie, 3.13), as amd64 root filesystems
made with debootstrap (no emulation). Each gets a virtual environment with the ``edge`` extra from
PyPI, and runs the edge test files (the Makefile's EDGE_TESTS) against this checkout and
../shared/assets, both bind-mounted read-only. Needs root (debootstrap, chroot, mount).

    sudo .venv/bin/python tools/py_chroots.py [--root runs/chroots] [--releases bullseye,bookworm,trixie]

Prints one line per release with its Python and the pytest tally; exit 0 when every release passes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = "python3,python3-venv,ca-certificates,libgl1,util-linux"
GLIB = {"trixie": "libglib2.0-0t64"}  # renamed in Debian 13 (the 64-bit time_t transition)
READY = ".edgesight-chroot"
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
CA_IN_CHROOT = "/etc/ssl/certs/edgesight-host-ca.crt"
PASSED_ON = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
PYTHONS = {"bullseye": "3.9", "bookworm": "3.11", "trixie": "3.13"}


def sh(*argv, check: bool = True, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)
    if check and done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise SystemExit(f"py_chroots: {' '.join(map(str, argv[:3]))} failed: {' | '.join(tail)}")
    return done


def edge_tests() -> list[str]:
    """EDGE_TESTS from the Makefile: the test files that need no TensorFlow."""
    text = (ROOT / "Makefile").read_text()
    block = re.search(r"^EDGE_TESTS := (.*?)(?<!\\)\n", text, re.S | re.M).group(1)
    return block.replace("\\\n", " ").split()


def edge_requirements() -> list[str]:
    import tomllib  # novm (the host's Python; the chroots' are what is tested)

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return [*extras["edge"], "pytest>=8"]


def rootfs(path: Path, release: str) -> None:
    if (path / READY).exists():
        return
    print(f"py_chroots: debootstrap {release} into {path} (once)", flush=True)
    path.mkdir(parents=True, exist_ok=True)
    sh(
        "debootstrap",
        "--variant=minbase",
        f"--include={PACKAGES},{GLIB.get(release, 'libglib2.0-0')}",
        release,
        path,
        MIRROR,
    )
    (path / READY).write_text(release)


@contextlib.contextmanager
def mounts(path: Path):
    """/proc, /dev, /sys, this checkout at /project and ../shared at /shared (read-only), resolv.conf."""
    done = []
    try:
        for source, target, options in (
            ("proc", "proc", ["-t", "proc"]),
            ("/dev", "dev", ["--bind"]),
            ("/sys", "sys", ["--bind"]),
            (str(ROOT), "project", ["--bind"]),
            (str(SHARED), "shared", ["--bind"]),
        ):
            (path / target).mkdir(exist_ok=True)
            sh("mount", *options, source, path / target)
            done.append(path / target)
            if target in ("project", "shared"):
                sh("mount", "-o", "remount,bind,ro", path / target)
        (path / "etc/resolv.conf").write_text(Path("/etc/resolv.conf").read_text())
        host_ca = Path(os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE") or HOST_CA)
        if host_ca.is_file():  # this network's TLS proxy: pip in the chroot trusts what the host trusts
            (path / CA_IN_CHROOT.lstrip("/")).write_bytes(host_ca.read_bytes())
        yield
    finally:
        for target in reversed(done):
            sh("umount", "-l", target, check=False)


def run_release(path: Path, release: str) -> tuple[bool, str]:
    reqs = " ".join(shlex.quote(r) for r in edge_requirements())
    tests = " ".join(edge_tests())
    script = (
        "set -e; python3 --version; "
        f"[ -x /venv/bin/python ] || python3 -m venv /venv; /venv/bin/pip install -q --upgrade pip {reqs}; "
        "cd /project && EDGESIGHT_REQUIRE_ASSETS=1 PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=/project "
        f"/venv/bin/python -m pytest -q -p no:cacheprovider {tests}"
    )
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8", "TMPDIR": "/tmp"}
    env.update({k: v for k, v in os.environ.items() if k in PASSED_ON})
    if (path / CA_IN_CHROOT.lstrip("/")).is_file():
        env.update(PIP_CERT=CA_IN_CHROOT, SSL_CERT_FILE=CA_IN_CHROOT, REQUESTS_CA_BUNDLE=CA_IN_CHROOT)
    done = subprocess.run(["chroot", str(path), "sh", "-c", script], capture_output=True, text=True, env=env)
    lines = done.stdout.strip().splitlines()
    version = next((ln for ln in lines if ln.startswith("Python ")), "Python ?")
    tally = next(
        (ln for ln in reversed(lines) if " passed" in ln or " failed" in ln), lines[-1:] or ["no output"]
    )
    ok = done.returncode == 0
    if not ok:
        print(done.stdout[-4000:] + done.stderr[-2000:], file=sys.stderr)
    return ok, f"{release}: {version}: {tally}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT / "runs" / "chroots")
    parser.add_argument("--releases", default="bullseye,bookworm,trixie")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print(
            "py_chroots: needs root (debootstrap, chroot, mount): sudo make python-versions", file=sys.stderr
        )
        return 2
    if shutil.which("debootstrap") is None:
        print("py_chroots: debootstrap is not installed (make python-versions installs it)", file=sys.stderr)
        return 2
    results = []
    for release in args.releases.split(","):
        path = args.root / release
        rootfs(path, release)
        with mounts(path):
            results.append(run_release(path, release))
        print(f"py_chroots: {results[-1][1]}", flush=True)
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
