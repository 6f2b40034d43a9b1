"""A detector's operating point: the score threshold with the best F1, from pycocotools' own matching."""

from __future__ import annotations

import numpy as np

from edge.evaluate.detect import score_coco
from edge.evaluate.operating import best_f1


def test_the_best_f1_is_found_by_hand_on_five_detections():
    # scores 0.9 (right), 0.8 (wrong), 0.6 (right), 0.3 (right), 0.2 (wrong); 4 boxes to find.
    # F1 = 2 TP / (detections kept + boxes): 6/9 at or below 0.2, 6/8 from 0.21 to 0.3, 4/7 to 0.6,
    # 2/6 to 0.8, 2/5 above.
    scores = np.array([0.9, 0.8, 0.6, 0.3, 0.2])
    matched = np.array([True, False, True, True, False])
    point = best_f1(scores, matched, 4)
    assert point is not None and point.threshold == 0.21
    assert np.isclose(point.f1, 0.75) and np.isclose(point.precision, 0.75) and np.isclose(point.recall, 0.75)
    assert best_f1(scores, np.zeros(5, dtype=bool), 4) is None  # nothing right: no threshold to give
    assert best_f1(scores[:0], matched[:0], 4) is None and best_f1(scores, matched, 0) is None


def _gt(boxes: list[tuple], crowd: int | None = None) -> dict:
    return {
        "images": [{"id": 1, "width": 200, "height": 200}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": 1,
                "category_id": c,
                "bbox": list(b),
                "area": b[2] * b[3],
                "iscrowd": int(i == crowd),
            }
            for i, (c, b) in enumerate(boxes)
        ],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
    }


def _det(category: int, box: tuple, score: float) -> dict:
    return {"image_id": 1, "category_id": category, "bbox": list(box), "score": score}


def test_pycocotools_matching_decides_right_and_wrong_and_crowds_count_for_nothing():
    boxes = [(1, (10, 10, 40, 40)), (2, (100, 100, 50, 50)), (1, (150, 10, 40, 40)), (1, (0, 120, 80, 80))]
    truth = _gt(boxes, crowd=3)
    results = [
        _det(1, (12, 12, 40, 40), 0.95),  # right
        _det(1, (100, 100, 50, 50), 0.85),  # the right place, the wrong class: wrong
        _det(2, (102, 101, 48, 50), 0.55),  # right
        _det(1, (5, 125, 60, 60), 0.75),  # on the crowd region: neither right nor wrong
        _det(1, (150, 10, 40, 12), 0.45),  # IoU 0.3 with its box: wrong
    ]
    point = score_coco(truth, results, ("a", "b")).operating
    # Counted: 0.95 right, 0.85 wrong, 0.55 right, 0.45 wrong; 3 boxes (the crowd one is not counted).
    # F1 = 2 TP / (found + 3): from 0.46 to 0.55, 2 right of 3 found, 4/6; below, 2 of 4, 4/7; from 0.56
    # to 0.85, 1 of 2, 2/5; above, 1 of 1, 2/4. Were the crowd one wrong, precision here would be 2/4.
    assert point is not None and point.threshold == 0.46, point
    assert np.isclose(point.precision, 2 / 3) and np.isclose(point.recall, 2 / 3)
