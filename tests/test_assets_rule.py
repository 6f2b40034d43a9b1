"""The suite's rule for ../shared/assets: a test that needs the assets skips where they are missing,
except under ``make test`` and CI (``EDGESIGHT_REQUIRE_ASSETS=1``), where it fails. Checked on a copy of
the checkout whose parent folder has no ``shared/assets``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.conftest import ROOT


def test_missing_assets_fail_under_make_test_and_skip_elsewhere(tmp_path):
    copy = tmp_path / "edgesight"
    ignore = shutil.ignore_patterns("__pycache__")
    for part in ("edge", "tools", "tests"):
        shutil.copytree(ROOT / part, copy / part, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy)
    assert not (tmp_path / "shared").exists()
    needs_assets = "tests/test_classify_assets.py::test_burger_is_a_cheeseburger_and_the_cat_an_egyptian_cat"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", needs_assets]  # 3 cases
    env = {k: v for k, v in os.environ.items() if k != "EDGESIGHT_REQUIRE_ASSETS"}
    required = subprocess.run(
        command, cwd=copy, env={**env, "EDGESIGHT_REQUIRE_ASSETS": "1"}, capture_output=True, text=True
    )
    last = required.stdout.strip().splitlines()[-1]
    assert required.returncode == 1 and "3 errors" in last and "passed" not in last, required.stdout[-2000:]
    assert "third-party assets not found" in required.stdout
    optional = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True)
    last = optional.stdout.strip().splitlines()[-1]
    assert optional.returncode == 0 and "3 skipped" in last and "error" not in last, optional.stdout[-2000:]
    assert "third-party assets not found" in optional.stdout
