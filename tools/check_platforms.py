"""Which interpreter, numpy and OpenCV each device extra resolves to, per platform and Python.

For every target (Linux x86_64 and aarch64, 32-bit Raspberry Pi OS, Windows x86_64, macOS arm64 and
x86_64) and every Python from 3.9 to 3.13, the extra's requirements are read from pyproject.toml,
their environment markers are evaluated for that target (pip would evaluate them for this machine),
and pip resolves them against PyPI with ``pip install --dry-run --only-binary=:all: --platform ...``
(metadata only: no wheel is downloaded). Prints a Markdown table; exit 0.

    python tools/check_platforms.py [--extras edge,laptop,tflite-runtime] [--pythons 3.9,3.11,3.13]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
WATCH = ("ai-edge-litert", "tflite-runtime", "numpy", "opencv-python", "opencv-python-headless", "av")


@dataclass(frozen=True)
class Target:
    name: str
    system: str  # platform_system
    machine: str  # platform_machine
    tags: tuple[str, ...]  # wheel platform tags the target accepts


def _manylinux(arch: str, glibc: int) -> tuple[str, ...]:
    return (
        *(f"manylinux_2_{v}_{arch}" for v in range(glibc, 16, -1)),
        f"manylinux2014_{arch}",
        f"linux_{arch}",
    )


def _macos(arch: str, newest: int, oldest: int) -> tuple[str, ...]:
    majors = [
        f"macosx_{v}_0_{a}" for v in range(newest, max(oldest, 11) - 1, -1) for a in (arch, "universal2")
    ]
    return (*majors, *(f"macosx_10_{v}_{a}" for v in range(15, 8, -1) for a in (arch, "universal2")))


PI_OS = "Raspberry Pi OS"
TARGETS = (
    Target("Linux x86_64 (glibc 2.36)", "Linux", "x86_64", _manylinux("x86_64", 36)),
    Target(f"{PI_OS} 64-bit Bookworm (aarch64, glibc 2.36)", "Linux", "aarch64", _manylinux("aarch64", 36)),
    Target(f"{PI_OS} 64-bit Bullseye (aarch64, glibc 2.31)", "Linux", "aarch64", _manylinux("aarch64", 31)),
    Target(f"{PI_OS} 32-bit Bookworm (armv7l, glibc 2.36)", "Linux", "armv7l", _manylinux("armv7l", 36)),
    Target("Windows x86_64", "Windows", "AMD64", ("win_amd64",)),
    Target("macOS arm64 (14)", "Darwin", "arm64", _macos("arm64", 14, 11)),
    Target("macOS x86_64 (14)", "Darwin", "x86_64", _macos("x86_64", 14, 10)),
)  # fmt: skip


def extra_requirements(extra: str) -> list[Requirement]:
    try:
        import tomllib  # novm
    except ImportError:  # Python 3.10 and older
        import tomli as tomllib  # type: ignore[no-redef]

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [Requirement(r) for r in data["project"]["optional-dependencies"][extra]]


def marker_environment(target: Target, python: str) -> dict[str, str]:
    env = default_environment()
    env.update(
        platform_system=target.system,
        platform_machine=target.machine,
        sys_platform={"Linux": "linux", "Windows": "win32", "Darwin": "darwin"}[target.system],
        os_name="nt" if target.system == "Windows" else "posix",
        python_version=python,
        python_full_version=f"{python}.0",
        implementation_name="cpython",
        platform_python_implementation="CPython",
    )
    return env


def resolve(target: Target, python: str, reqs: list[Requirement]) -> dict[str, str] | str:
    """Package -> version pip would install, or why it cannot."""
    env = marker_environment(target, python)
    wanted = [
        str(Requirement(f"{r.name}{r.specifier}")) for r in reqs if r.marker is None or r.marker.evaluate(env)
    ]
    platforms = [a for tag in target.tags for a in ("--platform", tag)]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
            "--only-binary=:all:", *platforms, "--python-version", python, "--implementation", "cp",
            "--target", str(Path(tmp) / "t"), "--report", str(report), *wanted,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            errors = [ln for ln in done.stderr.splitlines() if ln.startswith("ERROR")]
            return (errors[-1] if errors else f"pip exit {done.returncode}").removeprefix("ERROR: ")
        installed = json.loads(report.read_text())["install"]
    return {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in installed}


def cell(found: dict[str, str] | str) -> str:
    if isinstance(found, str):
        return f"does not install ({found[:80]})"
    interp = [f"{n} {found[n]}" for n in ("ai-edge-litert", "tflite-runtime") if n in found]
    cv = [f"{n.replace('opencv-python', 'opencv')} {found[n]}" for n in WATCH[3:] if n in found]
    return ", ".join([*(interp or ["no interpreter"]), f"numpy {found.get('numpy', '-')}", *cv])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="edge,laptop,tflite-runtime")
    parser.add_argument("--pythons", default="3.9,3.10,3.11,3.12,3.13")
    args = parser.parse_args(argv)
    pythons = args.pythons.split(",")
    for extra in args.extras.split(","):
        reqs = extra_requirements(extra)
        print(f"\n`{extra}`:\n")
        print("| platform | " + " | ".join(f"Python {p}" for p in pythons) + " |")
        print("|---|" + "---|" * len(pythons))
        for target in TARGETS:
            cells = [cell(resolve(target, p, reqs)) for p in pythons]
            print(f"| {target.name} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
