"""Run-folder files that a full disk or a kill cannot leave half written (``write_whole``), so the
last whole checkpoint, best model and state survive."""

from __future__ import annotations

import json
from pathlib import Path

from edge.sinks.files import write_whole

KEPT = " (the last whole one is kept)"


def save_model(model, path: Path) -> None:
    """``model.save(path)``, whole or not at all: a failure is an ``EdgeError``, ``path`` as it was."""
    write_whole(path, model.save, KEPT)


def write_text(path: Path, text: str) -> None:
    """``path.write_text(text)``, whole or not at all, as ``save_model``."""
    write_whole(path, lambda partial: partial.write_text(text), KEPT)


def write_state(folder: Path, state: dict) -> None:
    """``checkpoints/state.json``: the epoch ``checkpoints/last.keras`` holds, and what it was trained on."""
    write_text(folder / "checkpoints" / "state.json", json.dumps(state))


def epoch_end(folder: Path, model, better: bool, state: dict) -> None:
    """What an epoch leaves in the run folder: the best model when ``better``, the last one, and the
    state that says which epoch that is, in that order (a state never names a checkpoint not written)."""
    if better:
        save_model(model, folder / "model.keras")
    save_model(model, folder / "checkpoints" / "last.keras")
    write_state(folder, state)
