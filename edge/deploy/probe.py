"""What the device is, read over ssh in one read-only script, and the interpreter package that fits it."""

from __future__ import annotations

from dataclasses import dataclass

from edge.errors import EdgeError

# One line per fact, KEY=VALUE. Plain POSIX sh: no bash on some images. @DIR@: the deploy folder.
PROBE = r"""
echo "arch=$(uname -m)"
( . /etc/os-release 2>/dev/null && echo "os=$PRETTY_NAME" ) || echo "os=unknown"
echo "board=$(tr -d '\000' < /proc/device-tree/model 2>/dev/null)"
PY=$(command -v python3 || true)
echo "python=$PY"
[ -n "$PY" ] && echo "python_version=$($PY -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ -n "$PY" ] && $PY -c 'import venv, ensurepip' 2>/dev/null && echo "venv=yes" || echo "venv=no"
DIR=@DIR@
PARENT=$DIR; while [ ! -d "$PARENT" ]; do PARENT=$(dirname "$PARENT"); done
echo "free_mb=$(df -Pk "$PARENT" | awk 'NR==2 {print int($4/1024)}')"
echo "cameras=$(ls /dev/video* 2>/dev/null | tr '\n' ' ')"
command -v rpicam-hello >/dev/null 2>&1 || command -v libcamera-hello >/dev/null 2>&1 && echo "libcamera=yes"
[ -n "$PY" ] && $PY -c 'import picamera2' 2>/dev/null && echo "picamera2=yes"
command -v rsync >/dev/null 2>&1 && echo "rsync=yes" || echo "rsync=no"
systemctl --user show-environment >/dev/null 2>&1 && echo "systemd_user=yes" || echo "systemd_user=no"
echo "user=$(id -un)"
"""

LITERT_ARCHES = ("aarch64", "x86_64")  # ai-edge-litert's Linux wheels
LITERT_PYTHONS = ((3, 9), (3, 13))
TFLRT_PYTHONS = ((3, 8), (3, 11))  # tflite-runtime 2.14's wheels
MIN_FREE_MB = 300  # a venv with numpy, OpenCV and an interpreter, plus a model


@dataclass(frozen=True)
class Device:
    """The facts the deploy acts on."""

    arch: str
    os: str
    board: str
    python: str
    python_version: tuple[int, int] | None
    venv: bool
    free_mb: int | None
    cameras: tuple[str, ...]
    libcamera: bool
    picamera2: bool
    rsync: bool
    systemd_user: bool
    user: str

    def lines(self) -> list[str]:
        py = ".".join(map(str, self.python_version)) if self.python_version else "none"
        camera = ", ".join(self.cameras) or "no /dev/video*"
        if self.libcamera or self.picamera2:
            camera += "; Pi camera stack" + (" with Picamera2" if self.picamera2 else " (no Picamera2)")
        return [
            f"{self.board or self.arch} ({self.arch}), {self.os}, Python {py}, "
            f"{self.free_mb if self.free_mb is not None else '?'} MB free",
            f"camera: {camera}; systemd user services: {'yes' if self.systemd_user else 'no'}",
        ]


def parse_probe(text: str) -> Device:
    """The probe's output -> ``Device``."""
    facts: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            facts[key.strip()] = value.strip()
    version = None
    if facts.get("python_version", "").count(".") == 1:
        major, minor = facts["python_version"].split(".")
        version = (int(major), int(minor))
    free = facts.get("free_mb", "")
    return Device(
        arch=facts.get("arch", "unknown"),
        os=facts.get("os", "unknown"),
        board=facts.get("board", ""),
        python=facts.get("python", ""),
        python_version=version,
        venv=facts.get("venv") == "yes",
        free_mb=int(free) if free.isdigit() else None,
        cameras=tuple(facts.get("cameras", "").split()),
        libcamera=facts.get("libcamera") == "yes",
        picamera2=facts.get("picamera2") == "yes",
        rsync=facts.get("rsync") == "yes",
        systemd_user=facts.get("systemd_user") == "yes",
        user=facts.get("user", ""),
    )


def _within(version: tuple[int, int], bounds: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    return bounds[0] <= version <= bounds[1]


def choose_interpreter(device: Device, wanted: str = "auto") -> str:
    """``litert`` where ai-edge-litert has wheels, else ``tflite-runtime`` (2.14, numpy<2) where it
    has; ``wanted`` forces one. Raises ``EdgeError`` when the device cannot run edge at all."""
    if not device.python_version:
        raise EdgeError("the device has no python3: install it (sudo apt install python3 python3-venv)")
    if not device.venv:
        raise EdgeError("the device's python3 has no venv module: sudo apt install python3-venv")
    if not device.rsync:
        raise EdgeError("the device has no rsync: sudo apt install rsync")
    if device.free_mb is not None and device.free_mb < MIN_FREE_MB:
        raise EdgeError(f"the device has {device.free_mb} MB free; a deploy needs about {MIN_FREE_MB} MB")
    py = ".".join(map(str, device.python_version))
    if wanted != "auto":
        return wanted
    if device.arch in LITERT_ARCHES and _within(device.python_version, LITERT_PYTHONS):
        return "litert"
    if device.arch in LITERT_ARCHES and _within(device.python_version, TFLRT_PYTHONS):
        return "tflite-runtime"
    raise EdgeError(
        f"no TFLite interpreter wheel is known for {device.arch} with Python {py}: ai-edge-litert needs "
        "aarch64 or x86_64 with Python 3.9-3.13 (64-bit Raspberry Pi OS); pass --interpreter to try anyway"
    )
