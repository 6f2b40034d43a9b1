"""Download the wheels a device needs, on the desktop, for ``edgesight deploy --wheelhouse DIR``.

    python tools/build_wheelhouse.py OUT [--arch aarch64] [--python 3.11] [--interpreter litert]

Defaults: a 64-bit Raspberry Pi OS (Bookworm): aarch64, Python 3.11, ai-edge-litert. The packages are
the edge extras of pyproject.toml (``tflite-runtime`` for --interpreter tflite-runtime), binary wheels
only, for manylinux tags up to glibc 2.36 (Debian 12). Exit 2 when pip cannot find a wheel.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.deploy.packages import requirements  # noqa: E402

GLIBC_MINORS = range(17, 37)  # manylinux_2_17 (manylinux2014) ... manylinux_2_36 (Debian 12)


def platform_tags(arch: str) -> list[str]:
    return [f"manylinux_2_{m}_{arch}" for m in GLIBC_MINORS] + [f"manylinux2014_{arch}", f"linux_{arch}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--arch", default="aarch64", choices=("aarch64", "x86_64"))
    parser.add_argument("--python", default="3.11", help="the device's Python, e.g. 3.11")
    parser.add_argument("--interpreter", default="litert", choices=("litert", "tflite-runtime"))
    args = parser.parse_args()
    reqs = [r.split(";")[0].strip() for r in requirements(args.interpreter)]  # markers hold on Linux
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    command += ["--only-binary=:all:", "--implementation", "cp", "--python-version", args.python]
    for tag in platform_tags(args.arch):
        command += ["--platform", tag]
    command += ["--dest", str(args.out), *reqs]
    args.out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        print(f"build_wheelhouse: error: {lines[-1] if lines else 'pip download failed'}", file=sys.stderr)
        return 2
    wheels = sorted(p.name for p in args.out.glob("*.whl"))
    print(f"{len(wheels)} wheels for {args.arch}, Python {args.python}, {args.interpreter} in {args.out}:")
    for name in wheels:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
