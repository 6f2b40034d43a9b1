"""What one export produced: the files, the evaluations and the verdicts (read by the job and the report)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from train.evaluate import VariantResult
from train.export.convert import Exported
from train.export.gate import Verdict
from train.export.modes import QuantMode
from train.export.source import ExportSource

REFUSED_SUFFIX = ".refused"


@dataclass(frozen=True)
class ExportOutcome:
    """Everything one export produced: files, evaluations and verdicts."""

    source: ExportSource
    out_dir: Path
    modes: tuple[QuantMode, ...]
    exported: tuple[Exported, ...]
    reference: VariantResult
    variants: tuple[VariantResult, ...]
    verdicts: tuple[Verdict, ...]
    max_drop: float
    calibration_images: int
    bias_corrected_layers: int = 0  # layers whose offsets were corrected for the int8 modes

    @property
    def refused(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.accepted)

    def path_of(self, mode: str) -> Path:
        """Where the model of ``mode`` now is (``.refused`` appended when it was refused)."""
        path = next(e.path for e in self.exported if e.mode == mode)
        refused = any(v.variant == mode for v in self.refused)
        return path.with_name(path.name + REFUSED_SUFFIX) if refused else path
