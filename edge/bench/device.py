"""The device record of a benchmark: CPU, cores, clocks, temperature, throttling, OS and versions.

Everything is read from what the OS exposes (/proc/cpuinfo, /sys/devices/system/cpu, /sys/class/thermal,
/proc/device-tree/model, ``vcgencmd get_throttled`` on a Raspberry Pi); what it does not expose is
``"unknown"``, never a guess.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
from pathlib import Path

from edge.util.hashing import sha256_file

UNKNOWN = "unknown"
ROOT = Path("/")

# ARM's part numbers (/proc/cpuinfo "CPU part" with implementer 0x41) for the cores small boards use.
ARM_PARTS = {
    "0xd03": "Cortex-A53",
    "0xd04": "Cortex-A35",
    "0xd05": "Cortex-A55",
    "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72",
    "0xd09": "Cortex-A73",
    "0xd0a": "Cortex-A75",
    "0xd0b": "Cortex-A76",
    "0xd0c": "Neoverse-N1",
    "0xd40": "Neoverse-V1",
}

# vcgencmd get_throttled bits: now (0-3) and since boot (16-19).
THROTTLE_BITS = {
    0: "under-voltage",
    1: "arm frequency capped",
    2: "throttled",
    3: "soft temperature limit",
}


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip().rstrip("\x00")
    except OSError:
        return None


def cpuinfo_fields(text: str) -> dict[str, str]:
    """The first value of each ``key : value`` line of /proc/cpuinfo."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    return fields


def cpu_model(fields: dict[str, str]) -> str:
    """``AMD EPYC``, ``Cortex-A72`` ...: the name x86 gives, or the ARM core its part number names."""
    if fields.get("model name"):
        return fields["model name"]
    part = fields.get("CPU part", "").lower()
    if fields.get("CPU implementer", "").lower() == "0x41" and part in ARM_PARTS:
        return ARM_PARTS[part]
    if part:
        return f"implementer {fields.get('CPU implementer', '?')} part {part}"
    return fields.get("Hardware") or platform.processor() or UNKNOWN


def decode_throttled(text: str) -> dict:
    """``throttled=0x50005`` -> its flags now and since boot."""
    value = int(text.strip().partition("=")[2] or text.strip(), 16)
    return {
        "raw": hex(value),
        "now": [name for bit, name in THROTTLE_BITS.items() if value & (1 << bit)],
        "since_boot": [name for bit, name in THROTTLE_BITS.items() if value & (1 << (bit + 16))],
    }


def throttled() -> dict | str:
    """The Raspberry Pi firmware's throttling flags, when ``vcgencmd`` is there and answers."""
    exe = shutil.which("vcgencmd")
    if exe is None:
        return UNKNOWN
    try:
        out = subprocess.run([exe, "get_throttled"], capture_output=True, text=True, timeout=5)
        return decode_throttled(out.stdout) if out.returncode == 0 else UNKNOWN
    except (OSError, subprocess.SubprocessError, ValueError):
        return UNKNOWN


def temperatures(root: Path = ROOT) -> dict[str, float]:
    """Degrees Celsius of each thermal zone (``cpu-thermal`` on a Pi), by its type."""
    zones: dict[str, float] = {}
    for zone in sorted((root / "sys/class/thermal").glob("thermal_zone*")):
        temp = _read(zone / "temp")
        if temp and temp.lstrip("-").isdigit():
            zones[_read(zone / "type") or zone.name] = int(temp) / 1000
    return zones


def cpu_clock(root: Path = ROOT) -> dict:
    """cpu0's frequency governor and current / maximum clock in MHz."""
    base = root / "sys/devices/system/cpu/cpu0/cpufreq"

    def mhz(name: str) -> float | str:
        value = _read(base / name)
        return int(value) / 1000 if value and value.isdigit() else UNKNOWN

    return {
        "governor": _read(base / "scaling_governor") or UNKNOWN,
        "freq_mhz": mhz("scaling_cur_freq"),
        "max_freq_mhz": mhz("cpuinfo_max_freq"),
    }


def thermal_state(root: Path = ROOT) -> dict:
    """What can change while a benchmark runs: the hottest zone, cpu0's clock, throttling."""
    zones = temperatures(root)
    clock = cpu_clock(root)
    return {
        "temperature_c": max(zones.values()) if zones else UNKNOWN,
        "freq_mhz": clock["freq_mhz"],
        "throttled": throttled(),
    }


def _os_name(root: Path) -> str:
    text = _read(root / "etc/os-release") or ""
    for line in text.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip('"')
    return f"{platform.system()} {platform.release()}".strip() or UNKNOWN


def _version(module: str) -> str:
    try:
        return getattr(__import__(module), "__version__", UNKNOWN)
    except ImportError:
        return "not installed"


def device_record(root: Path = ROOT) -> dict:
    """The device a benchmark ran on."""
    fields = cpuinfo_fields(_read(root / "proc/cpuinfo") or "")
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    return {
        "hostname": socket.gethostname(),
        "board": _read(root / "proc/device-tree/model") or fields.get("Model") or UNKNOWN,
        "cpu_model": cpu_model(fields),
        "arch": platform.machine() or UNKNOWN,
        "cores": os.cpu_count() or 0,
        "cores_usable": usable,
        **cpu_clock(root),
        "temperatures_c": temperatures(root) or UNKNOWN,
        "throttled": throttled(),
        "os": _os_name(root),
        "kernel": platform.release() or UNKNOWN,
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "opencv": _version("cv2"),
    }


def model_record(path: Path) -> dict:
    """A model file: path, name, size and sha256."""
    return {
        "path": str(path),
        "name": Path(path).name,
        "size_bytes": Path(path).stat().st_size,
        "sha256": sha256_file(path),
    }
