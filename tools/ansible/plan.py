"""What one device's deploy consists of, for the Ansible playbook: the same packages, environment
key, files and scripts ``edgesight deploy`` uses (edge.deploy), printed as one JSON object.

    python tools/ansible/plan.py --model M.tflite --root /home/pi/edgesight --python 3.11 \
        [--interpreter litert] [--wheelhouse] [--systemd] [--name edgesight] -- RUN OPTIONS...
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge.deploy import release as rel
from edge.deploy import service
from edge.deploy.packages import environment_key, requirements
from edge.deploy.plan import Plan, health_url, parse_run_args, spec_args, split_secrets
from edge.errors import EdgeError
from edge.util.hashing import sha256_file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--root", required=True, help="absolute deploy folder on the device")
    parser.add_argument("--python", required=True, help="the device's python3 version, e.g. 3.11")
    parser.add_argument("--interpreter", default="litert", choices=("litert", "tflite-runtime"))
    parser.add_argument("--name", default="edgesight")
    parser.add_argument("--wheelhouse", action="store_true", help="install from ROOT/wheelhouse")
    parser.add_argument("--systemd", action="store_true", help="the device runs systemd user services")
    parser.add_argument("--health-timeout", type=float, default=60.0)
    parser.add_argument("--bin-dir", default="~/.local/bin", help="where the edgesight command is linked")
    parser.add_argument("run_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    given = args.run_args[1:] if args.run_args[:1] == ["--"] else args.run_args
    try:
        if not args.model.is_file():
            raise EdgeError(f"model not found: {args.model}")
        ns = parse_run_args(args.model, tuple(given))
        run_args, secrets = split_secrets(list(given))
        major, minor = (int(v) for v in args.python.split(".")[:2])
        reqs = requirements(args.interpreter)
        system_site = ns.source == "picamera"  # Picamera2 comes from apt
        key = environment_key((major, minor), args.interpreter, reqs, system_site=system_site)
    except (EdgeError, ValueError) as exc:
        print(f"plan: error: {exc}", file=sys.stderr)
        return 2
    sha = sha256_file(args.model)
    layout = rel.Layout(args.root.rstrip("/"), args.name)
    release = Plan(
        rid=f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{sha[:8]}",
        sha256=sha,
        interpreter=args.interpreter,
        requirements=tuple(reqs),
        environment=key,
        system_site=system_site,
        run_args=tuple(run_args),
        files=(),
        health_url=health_url(ns),
        secrets=secrets,
    )
    rid = release.rid
    record = release.record(args.model)
    files = rel.release_files(layout, rid, key, args.model.name, run_args, secrets)
    plan = {
        "id": rid,
        "sha256": sha,
        "release": layout.release(rid),
        "environment": layout.venv(key),
        "requirements": reqs,
        "system_site": system_site,
        "scripts": {
            "prepare": rel.prepare(layout, rid),
            "write": rel.write_release(layout, rid, files, record),
            "smoke": rel.smoke(layout, rid, key, args.model.name, spec_args(run_args)),
            "switch": service.switch(layout, rid, start=True, systemd=args.systemd),
            "link": rel.link_command(layout, args.bin_dir),
            "health": service.health(layout, args.systemd, args.health_timeout, 5.0),
            "revert": service.revert(layout, args.systemd),
        },
    }
    print(json.dumps(plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
