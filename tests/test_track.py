"""The tracker, lines and zones on their own: MOTA and IDF1 on the built-in tracking scene by
motmetrics, the same detections through Roboflow's ByteTrack (``trackers``) for comparison, the
Kalman filter against its full-matrix form, and the counting rules (direction, endpoints, jitter,
zones, labels) on hand-made paths."""

from __future__ import annotations

import numpy as np
import pytest

from edge.errors import EdgeError
from edge.sources.paths import PathsSource, truth_detections
from edge.tasks.results import Detections
from edge.track import kalman
from edge.track.bytetrack import ByteTracker
from edge.track.events import Watcher
from edge.track.regions import parse_region, parse_regions
from tools.track_check import accumulate

mm = pytest.importorskip("motmetrics")  # dev extra: always there under make test
SEEDS = (0, 1, 2)


def _scene(seed: int, frames: int = 600):
    """A seed's truths and the detections of a detector of known quality on them."""
    truths = list(PathsSource(frames=frames, seed=seed).truths())
    rng = np.random.default_rng(seed + 100)
    return truths, [truth_detections(objects, rng) for objects in truths]


def _metrics(acc) -> dict:
    summary = mm.metrics.create().compute(acc, metrics=["mota", "idf1", "num_switches"], name="run")
    return {k: float(summary[k].iloc[0]) for k in ("mota", "idf1", "num_switches")}


def _expected_crossings(truths: list[list[dict]], x: float, y_range: tuple[float, float]) -> dict:
    """Crossings of the vertical line at ``x`` between ``y_range``, from the true boxes' bottom
    centres (each visit followed alone): leftwards is ``in`` for a line drawn top to bottom."""
    last: dict[int, tuple[float, float]] = {}
    counts = {"in": 0, "out": 0}
    for objects in truths:
        for o in objects:
            point = ((o["box"][0] + o["box"][2]) / 2, o["box"][3])
            before = last.get(o["visit"])
            if (
                before is not None
                and (before[0] - x) * (point[0] - x) < 0
                and y_range[0] <= point[1] <= y_range[1]
            ):
                counts["in" if point[0] < x else "out"] += 1
            last[o["visit"]] = point
    return counts


@pytest.mark.parametrize("seed", SEEDS)
def test_tracks_the_scene_with_mota_and_idf1_above_0_9_and_counts_its_line_exactly(seed):
    truths, detections = _scene(seed)
    tracker = ByteTracker()
    regions = parse_regions(["mid=0.5,0,0.5,1", "top=0.5,0,0.5,0.5"], None)
    watcher = Watcher(regions)
    acc = mm.MOTAccumulator(auto_id=True)
    for index, (objects, found) in enumerate(zip(truths, detections)):
        update = tracker.update(found)
        watcher.observe(update.result, update.ended, index, index / 30, (640, 480))
        accumulate(acc, objects, update.result.xyxy, update.result.track_ids)
    metrics = _metrics(acc)
    assert metrics["mota"] >= 0.90 and metrics["idf1"] >= 0.90, metrics
    mid = _expected_crossings(truths, 320, (0, 480))
    assert sum(mid.values()) >= 10  # the scene does cross the line, many times
    assert watcher.tally.lines["mid"] == mid
    assert watcher.tally.lines["top"] == _expected_crossings(truths, 320, (0, 240))
    assert watcher.tally.lines["top"] != mid  # the half line counts only what passes between its ends


def test_does_as_well_as_roboflow_bytetrack_on_the_same_detections():
    trackers = pytest.importorskip("trackers")  # dev extra (numpy 2): the desktop environment
    import supervision as sv

    for seed in SEEDS:
        truths, detections = _scene(seed)
        ours = ByteTracker()
        # the same thresholds: first matching at 0.25, new tracks from 0.35, IoU 0.2, 30 frames lost
        theirs = trackers.ByteTrackTracker(
            lost_track_buffer=30, frame_rate=30, track_activation_threshold=0.35,
            high_conf_det_threshold=0.25, minimum_iou_threshold=0.2,
        )  # fmt: skip
        acc_ours, acc_theirs = mm.MOTAccumulator(auto_id=True), mm.MOTAccumulator(auto_id=True)
        for objects, found in zip(truths, detections):
            update = ours.update(found)
            accumulate(acc_ours, objects, update.result.xyxy, update.result.track_ids)
            given = sv.Detections(
                xyxy=found.xyxy.reshape(-1, 4), confidence=found.scores, class_id=found.class_ids
            )
            out = theirs.update(given)
            tracked = out.tracker_id >= 0 if out.tracker_id is not None else np.zeros(0, bool)
            accumulate(acc_theirs, objects, out.xyxy[tracked], out.tracker_id[tracked])
        a, b = _metrics(acc_ours), _metrics(acc_theirs)
        assert a["mota"] >= b["mota"] - 0.02 and a["idf1"] >= b["idf1"] - 0.02, (seed, a, b)
        assert a["num_switches"] <= b["num_switches"], (seed, a, b)


def _boxes(*boxes) -> Detections:
    """Detections from (x0, y0, x1, y1, score, class) rows."""
    rows = np.asarray(boxes, dtype=np.float64).reshape(-1, 6)
    return Detections(rows[:, :4], rows[:, 4], rows[:, 5].astype(np.int64), [None] * len(rows))


def test_a_doubtful_class_neither_doubles_an_object_nor_starts_new_tracks():
    """A detector unsure of a class puts two boxes of two classes on one object, and flips between
    them: the tracker keeps one track, with the class it started with."""
    tracker = ByteTracker()
    ids = set()
    for frame in range(30):
        x = 100 + 5 * frame
        flip = frame % 3 == 2  # every third frame the other class wins, or comes second
        found = _boxes(
            (x, 100, x + 60, 160, 0.9 if not flip else 0.6, 0),
            (x + 1, 101, x + 61, 161, 0.6 if not flip else 0.9, 1),  # the same object: IoU 0.94
            (400, 300, 460, 360, 0.8, 1),  # another object of class 1, far away: kept
        )
        result = tracker.update(found).result
        assert len(result.track_ids) == 2, frame
        ids.update(result.track_ids.tolist())
    assert sorted(ids) == [1, 2]
    assert tracker.classes.tolist() == [0, 1]


def test_a_box_that_covers_a_track_goes_to_it_under_another_class_not_to_a_lost_track_of_that_class():
    """The class preference is a margin, not a rule: a box named as another class that all but
    covers a tracked object is that object's, not a lost track's of its class that it only grazes
    (IoU 0.33), which would carry the object's id across a line a second time."""
    tracker = ByteTracker()
    for frame in range(10):
        x = 100 + 4 * frame
        a = (x, 100, x + 60, 160, 0.9, 0)
        b = (x + 30, 100, x + 90, 160, 0.9, 1)  # another object beside it, of class 1
        result = tracker.update(_boxes(a, b) if frame < 8 else _boxes(a)).result  # b unseen from frame 8
    assert result.track_ids.tolist() == [1] and tracker.lost.tolist() == [False, True]
    result = tracker.update(_boxes((140, 100, 200, 160, 0.9, 1))).result  # a's box, named class 1
    assert result.track_ids.tolist() == [1]


def test_same_objects_leaves_out_only_worse_boxes_of_another_class_on_one_object():
    from edge.track.bytetrack import same_objects

    boxes = np.float64([[0, 0, 10, 10], [0, 0, 10, 10.5], [0, 0, 10, 10.2], [50, 50, 60, 60]])
    scores = same_objects(boxes, np.float64([0.5, 0.9, 0.8, 0.7]), np.int64([0, 1, 1, 0]), 0.7)
    assert scores.tolist() == [0.0, 0.9, 0.8, 0.7]  # the class-1 pair overlaps but is one class
    unchanged = same_objects(boxes, np.float64([0.5, 0.9, 0.8, 0.7]), np.int64([0, 1, 1, 0]), 1.0)
    assert unchanged.tolist() == [0.5, 0.9, 0.8, 0.7]


def test_direction_ranks_the_box_a_track_moves_towards_first():
    """OC-SORT's direction term: cosines of the track's velocity with the way to each box, and the
    greedy matching taking the rank, not the IoU, when they differ."""
    from edge.track.bytetrack import greedy_match

    tracker = ByteTracker()
    for frame in range(6):  # one track moving right at 4 px a frame
        tracker.update(_boxes((100 + 4 * frame, 100, 150 + 4 * frame, 150, 0.9, 0)))
    last = tracker.mean[:, :2].copy()
    ahead, behind, still = (last[0, 0] + 10, 125), (last[0, 0] - 10, 125), (last[0, 0], 125)
    boxes = np.float64([[x - 25, y - 25, x + 25, y + 25] for x, y in (ahead, behind, still)])
    cosines = tracker._direction(last, boxes)
    assert cosines[0, 0] == pytest.approx(1.0, abs=0.05) and cosines[0, 1] == pytest.approx(-1.0, abs=0.05)
    assert cosines[0, 2] == 0.0
    iou = np.float64([[0.6, 0.7]])
    assert greedy_match(iou, 0.2) == [(0, 1)]
    assert greedy_match(iou, 0.2, iou + 0.2 * cosines[:, :2]) == [(0, 0)]
    assert greedy_match(iou, 0.65, iou + 0.2 * cosines[:, :2]) == [(0, 1)]  # the IoU still gates


def _full_kalman_step(mean, cov, z):
    """ByteTrack's filter with 8x8 matrices: predict then update, one track."""
    f = np.eye(8)
    f[:4, 4:] = np.eye(4)
    h_ = np.eye(4, 8)
    h = mean[3]
    q = np.diag(np.r_[[h / 20, h / 20, 1e-2, h / 20], [h / 160, h / 160, 1e-5, h / 160]] ** 2)
    mean, cov = f @ mean, f @ cov @ f.T + q
    r = np.diag(np.array([mean[3] / 20, mean[3] / 20, 1e-1, mean[3] / 20]) ** 2)
    s = h_ @ cov @ h_.T + r
    k = cov @ h_.T @ np.linalg.inv(s)
    return mean + k @ (z - h_ @ mean), cov - k @ s @ k.T


def test_kalman_blocks_equal_the_full_matrix_filter():
    rng = np.random.default_rng(0)
    boxes = np.array([[100, 100, 140, 200], [300, 50, 420, 90]], dtype=np.float64)
    mean, var = kalman.initiate(kalman.xyxy_to_xyah(boxes))
    full = []
    for m, v in zip(mean, var):
        cov = np.diag(v[0].tolist() + v[2].tolist())
        full.append((m.copy(), cov))
    for step in range(20):
        moved = boxes + step * np.array([3.0, 1.0, 3.0, 1.0]) + rng.normal(0, 1.5, boxes.shape)
        z = kalman.xyxy_to_xyah(moved)
        mean, var = kalman.predict(mean, var)
        mean, var = kalman.update(mean, var, z)
        full = [_full_kalman_step(m, c, zi) for (m, c), zi in zip(full, z)]
    for i, (m, c) in enumerate(full):
        np.testing.assert_allclose(mean[i], m, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(var[i, 0], np.diag(c)[:4], rtol=1e-9)
        np.testing.assert_allclose(var[i, 1], np.diag(c[:4, 4:]), rtol=1e-9)
        np.testing.assert_allclose(var[i, 2], np.diag(c)[4:], rtol=1e-9)
        assert np.count_nonzero(c[:4, :4] - np.diag(np.diag(c[:4, :4]))) == 0  # no coupling: blocks hold


def _walk(watcher: Watcher, points: list[tuple[float, float]], label: str = "person", track: int = 1):
    """One object whose box's bottom centre follows ``points``: every event it makes."""
    events = []
    for index, (x, y) in enumerate(points):
        found = Detections([[x - 10, y - 40, x + 10, y]], [0.9], [0], [label], track_ids=[track])
        events += watcher.observe(found, (), index, index / 10, (640, 480))
    return events


def test_a_line_counts_its_direction_once_and_ignores_jitter_on_it():
    watcher = Watcher((parse_region("door=320,100,320,400", "line"),))
    jitter = [(300, 250), (318, 250), (324, 250), (316, 251), (325, 250), (319, 249)]  # within the band
    across = [
        (330, 250),
        (360, 250),
        (340, 250),
        (361, 250),
    ]  # over it: out (rightwards), then back and forth
    events = _walk(watcher, jitter + across + [(300, 250)])
    crossings = [(e.direction, e.index) for e in events if e.type == "cross"]
    assert crossings == [("out", 7), ("in", 10)]
    assert watcher.tally.lines["door"] == {"in": 1, "out": 1}


def test_a_line_counts_only_between_its_ends_and_by_label():
    watcher = Watcher((parse_region("door=0.5,0.2,0.5,0.5:person", "line"),))
    below = [(200, 400), (450, 400)]  # crosses x=320 at y=400, below the line's end (y=240)
    assert [e for e in _walk(watcher, below) if e.type == "cross"] == []
    watcher = Watcher((parse_region("door=0.5,0.2,0.5,0.5:person", "line"),))
    assert [e for e in _walk(watcher, [(200, 200), (450, 200)], label="car") if e.type == "cross"] == []
    crossed = [e for e in _walk(watcher, [(200, 200), (450, 200)], track=2) if e.type == "cross"]
    assert [(e.track, e.direction, e.line) for e in crossed] == [(2, "out", "door")]


def test_a_zone_reports_enter_exit_dwell_and_occupancy():
    watcher = Watcher((parse_region("drive=100,100,300,100,300,300,100,300", "zone"),))
    path = [(50, 200), (150, 200), (200, 200), (250, 200), (350, 200)]  # in at index 1, out at index 4
    events = _walk(watcher, path)
    kinds = [(e.type, e.index) for e in events if e.type in ("enter", "exit")]
    assert kinds == [("enter", 1), ("exit", 4)]
    exit_event = next(e for e in events if e.type == "exit")
    assert exit_event.dwell == pytest.approx(0.3) and exit_event.zone == "drive"
    assert watcher.tally.zones["drive"] == {"occupancy": 0, "peak": 1, "entered": 1, "exited": 1}
    assert [e.type for e in events].count("update") == 2  # the zone changed twice


def test_a_track_that_ends_inside_a_zone_exits_it_and_ends():
    watcher = Watcher((parse_region("drive=0,0,1,0,1,1,0,1", "zone"),), snapshots=True)
    events = _walk(watcher, [(200, 200), (210, 200)])
    assert events[0].type == "new" and events[0].snapshot == "track1-0.jpg"
    final = watcher.finish(1.0)
    assert [(e.type, e.reason) for e in final] == [("exit", None), ("end", "stopped")]
    assert final[1].duration == pytest.approx(0.1) and final[1].snapshot == "track1-0.jpg"


@pytest.mark.parametrize(
    "text, kind, message",
    [
        ("door", "line", "expects NAME=x,y"),
        ("door=1,2,3", "line", "expected 4 numbers"),
        ("door=a,b,c,d", "line", "must be numbers"),
        ("area=0,0,1,1", "zone", "at least 3 points"),
        ("door=5,5,5,5", "line", "the same point"),
    ],
)
def test_bad_lines_and_zones_are_one_line_errors(text, kind, message):
    with pytest.raises(EdgeError, match=message):
        parse_region(text, kind)


def test_fractions_or_pixels_and_unique_names():
    assert parse_region("d=0.5,0,0.5,1", "line").pixels(640, 480).tolist() == [[320, 0], [320, 480]]
    assert parse_region("d=320,0,320,480", "line").pixels(1280, 960).tolist() == [[320, 0], [320, 480]]
    with pytest.raises(EdgeError, match="unique"):
        parse_regions(["a=0,0,1,1"], ["a=0,0,1,0,1,1"])
