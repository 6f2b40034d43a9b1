"""The device's Python packages: the extras of pyproject.toml for the chosen interpreter, never
TensorFlow, read from this checkout (or from the installed package's metadata)."""

from __future__ import annotations

import hashlib
import re
from importlib import metadata
from pathlib import Path

from edge.errors import EdgeError

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = {"litert": "edge", "tflite-runtime": "tflite-runtime"}


def _from_pyproject(extra: str) -> list[str] | None:
    path = ROOT / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        import tomllib  # novm (3.11+; older Pythons read the installed package's metadata)
    except ImportError:
        return None
    data = tomllib.loads(path.read_text())
    return list(data["project"]["optional-dependencies"][extra])


def _from_metadata(extra: str) -> list[str]:
    try:
        requires = metadata.requires("edgesight") or []
    except metadata.PackageNotFoundError:
        raise EdgeError(
            "cannot tell the device's packages: no pyproject.toml and edgesight is not installed"
        ) from None
    marker = re.compile(rf"""^\(?\s*extra\s*==\s*["']{re.escape(extra)}["']\s*\)?$""")
    out = []
    for req in requires:
        spec, _, markers = req.partition(";")
        clauses = [c.strip() for c in markers.split(" and ")] if markers else []
        if any(marker.match(c) for c in clauses):
            rest = " and ".join(c for c in clauses if not marker.match(c))
            out.append(f"{spec.strip()}; {rest}" if rest else spec.strip())
    return out


def requirements(interpreter: str) -> list[str]:
    """pip requirement strings for ``litert`` or ``tflite-runtime``."""
    extra = EXTRAS[interpreter]
    found = _from_pyproject(extra)
    reqs = found if found is not None else _from_metadata(extra)
    if any(r.lower().startswith("tensorflow") for r in reqs):
        raise EdgeError(f"the {extra} extra names TensorFlow: a device never installs it")
    return reqs


def environment_key(
    python_version: tuple[int, int], interpreter: str, reqs: list[str], system_site: bool = False
) -> str:
    """A name for the virtual environment these packages make, reused while they do not change."""
    site = ["system-site-packages"] if system_site else []
    text = "\n".join([f"{python_version[0]}.{python_version[1]}", interpreter, *sorted(reqs), *site])
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"py{python_version[0]}{python_version[1]}-{interpreter}-{digest}"
