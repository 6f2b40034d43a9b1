"""Run-folder files that a full disk or a kill cannot leave half written: each is written beside its
place and moved over it only when whole, so the last whole checkpoint, best model and state survive."""

from __future__ import annotations

import json
import os
from pathlib import Path

from edge.errors import EdgeError


def _partial(path: Path) -> Path:
    return path.with_name(f"{path.stem}.partial{path.suffix}")  # Keras wants the .keras suffix kept


def save_model(model, path: Path) -> None:
    """``model.save(path)``, atomically; a failure is an ``EdgeError`` that leaves ``path`` as it was."""
    _atomically(path, model.save)


def write_text(path: Path, text: str) -> None:
    """``path.write_text(text)``, atomically, as ``save_model``."""
    _atomically(path, lambda partial: partial.write_text(text))


def _atomically(path: Path, write) -> None:
    """``write(partial)`` beside ``path``, then the partial file moved over ``path``; on any failure
    (a full disk, Ctrl-C) the partial file is removed and ``path`` is as it was."""
    partial = _partial(path)
    try:
        write(partial)
        os.replace(partial, path)
    except OSError as exc:
        raise EdgeError(f"cannot write {path}: {exc.strerror or exc} (the last whole one is kept)") from None
    finally:
        partial.unlink(missing_ok=True)


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
