"""The accuracy gate: a converted variant is refused when its outputs are broken (NaN, constant,
collapsed to one class; for a detector: no detections or collapsed boxes) or when it loses more than
``max_drop`` points of top-1 (a detector: of mAP@[.5:.95]) against the float model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.evaluate.classify import Evaluation

DEFAULT_MAX_DROP = 1.0


@dataclass(frozen=True)
class Verdict:
    """Whether a variant may be shipped, and why not."""

    variant: str
    accepted: bool
    reason: str = ""
    drop_points: float | None = None


def broken_outputs(evaluation: Evaluation, labels: tuple[str, ...] | None = None) -> str | None:
    """What is wrong with a model's outputs over a validation set, or None when they look sane."""
    scores = evaluation.scores
    if scores is None or len(scores) == 0:
        return None
    bad = int((~np.isfinite(scores)).any(axis=1).sum())
    if bad:
        return f"outputs are NaN or infinite on {bad} of {len(scores)} images"
    if len(scores) > 1 and float(np.ptp(scores, axis=0).max()) <= 1e-6:
        return f"outputs are constant: the same scores for all {len(scores)} images"
    top = scores.argmax(axis=1)
    if len(np.unique(evaluation.labels)) > 1 and len(np.unique(top)) == 1:
        name = labels[int(top[0])] if labels is not None else f"class {int(top[0])}"
        return f"outputs collapsed to one class: every image is {name!r}"
    return None


def judge(
    variant: str,
    evaluation: Evaluation,
    reference: Evaluation,
    max_drop: float = DEFAULT_MAX_DROP,
    labels: tuple[str, ...] | None = None,
) -> Verdict:
    """Refuse broken outputs always, and a top-1 drop of more than ``max_drop`` points against float."""
    problem = broken_outputs(evaluation, labels)
    drop = round((reference.accuracy - evaluation.accuracy) * 100, 2)
    if problem:
        return Verdict(variant, False, problem, drop)
    if drop > max_drop:
        return Verdict(
            variant,
            False,
            f"top-1 {evaluation.accuracy:.2%} is {drop:.2f} points below float "
            f"{reference.accuracy:.2%} (--max-drop {max_drop:g})",
            drop,
        )
    return Verdict(variant, True, "", drop)


def judge_detector(variant: str, evaluation, reference, max_drop: float = DEFAULT_MAX_DROP) -> Verdict:
    """Refuse a detector with no detections, broken outputs or collapsed boxes always, and one losing
    more than ``max_drop`` points of mAP@[.5:.95] against the Keras float model."""
    drop = round((reference.mAP50_95 - evaluation.mAP50_95) * 100, 2)
    if evaluation.problem:
        return Verdict(variant, False, evaluation.problem, drop)
    if drop > max_drop:
        return Verdict(
            variant,
            False,
            f"mAP@[.5:.95] {evaluation.mAP50_95:.3f} is {drop:.2f} points below float "
            f"{reference.mAP50_95:.3f} (--max-drop {max_drop:g})",
            drop,
        )
    return Verdict(variant, True, "", drop)
