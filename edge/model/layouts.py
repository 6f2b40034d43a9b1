"""The output layouts edge reads, one row each, and how a model's layout is told from its signature.

A layout says what each output tensor means. It is read from the model's metadata when the model
has it (edgesight's own entry, Ultralytics' ``task``), else from the tensor signature: the number,
shapes and names of the outputs, the op that produces them, the anchor count a YOLO head has for
the input size, and the class count of the labels. When more than one layout fits, or none does, the
error lists the candidates and the ``--layout`` flag that settles it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from edge.errors import EdgeError
from edge.model.graph import Op
from edge.model.runtime import TensorInfo

SSD_OP = "TFLite_Detection_PostProcess"
SSD_ROLES = ("boxes", "classes", "scores", "count")  # the op's outputs, in its own order
YOLO_STRIDES = ((8, 16, 32), (8, 16, 32, 64))  # P3-P5 heads, and P3-P6 heads of the *6 models


@dataclass(frozen=True)
class Signature:
    """What the layout is told from: the input size, the outputs, the ops and the labels' count."""

    height: int
    width: int
    outputs: tuple[TensorInfo, ...]
    ops: tuple[Op, ...] = ()
    num_labels: int | None = None
    roles: dict | None = None  # output role -> position, when the metadata names them

    def shapes(self) -> list[list[int]]:
        return [list(o.shape) for o in self.outputs]


@dataclass(frozen=True)
class Fit:
    """How a model fits a layout: output position of each role, and the class count (when fixed)."""

    outputs: dict[str, int] = field(default_factory=dict)
    num_classes: int | None = None


@dataclass(frozen=True)
class Layout:
    """One output layout: its task, what it looks like, and the preprocessing its models expect."""

    name: str
    task: str
    summary: str
    resize: str
    mean: tuple[float, ...] | None  # normalisation when the model has none in metadata
    std: tuple[float, ...] | None
    fit: Callable[[Signature, bool], Fit | str]  # (signature, strict) -> Fit, or why it does not fit


def anchor_counts(height: int, width: int, per_cell: int) -> set[int]:
    """Candidate counts a YOLO head has for an input size: one (v8/11) or three (v5) per grid cell."""
    return {per_cell * sum((height // s) * (width // s) for s in strides) for strides in YOLO_STRIDES}


def _fit_class_scores(sig: Signature, strict: bool) -> Fit | str:
    if len(sig.outputs) != 1:
        return f"expects one output, found {len(sig.outputs)}"
    shape = sig.outputs[0].shape
    if len(shape) != 2 or shape[0] != 1 or shape[1] < 1:
        return f"expects an output of shape [1, C], found {list(shape)}"
    return Fit({"scores": 0}, int(shape[1]))


def _fit_ssd(sig: Signature, strict: bool) -> Fit | str:
    if len(sig.outputs) != 4:
        return f"expects four outputs (boxes, classes, scores, count), found {len(sig.outputs)}"
    position = {o.index: i for i, o in enumerate(sig.outputs)}
    for op in sig.ops:  # the post-processing op names its outputs in a fixed order
        if op.name == SSD_OP and len(op.outputs) == 4 and all(t in position for t in op.outputs):
            return Fit({role: position[t] for role, t in zip(SSD_ROLES, op.outputs)})
    roles: dict[str, int] = {}
    for i, o in enumerate(sig.outputs):  # no such op in the file: shapes, then names
        if len(o.shape) == 3 and o.shape[0] == 1 and o.shape[2] == 4:
            roles["boxes"] = i
        elif len(o.shape) == 1 or o.shape == (1, 1):
            roles["count"] = i
        elif "class" in o.name.lower():
            roles["classes"] = i
        elif "score" in o.name.lower():
            roles["scores"] = i
    if len(roles) != 4:
        missing = ", ".join(r for r in SSD_ROLES if r not in roles)
        return f"no {SSD_OP} op, and the outputs' shapes and names do not say which is {missing}"
    return Fit(roles)


def _fit_yolo(channels_first: bool, objectness: bool) -> Callable[[Signature, bool], Fit | str]:
    extra = 5 if objectness else 4
    per_cell = 3 if objectness else 1
    shape_text = f"[1, {extra}+C, N]" if channels_first else f"[1, N, {extra}+C]"

    def fit(sig: Signature, strict: bool) -> Fit | str:
        if len(sig.outputs) != 1 or len(sig.outputs[0].shape) != 3 or sig.outputs[0].shape[0] != 1:
            return f"expects one output of shape {shape_text}, found {sig.shapes()}"
        _, a, b = sig.outputs[0].shape
        values, count = (a, b) if channels_first else (b, a)
        classes = values - extra
        if classes < 1:
            return f"expects {shape_text} with at least one class, found {list(sig.outputs[0].shape)}"
        if strict:
            anchors = anchor_counts(sig.height, sig.width, per_cell)
            if count not in anchors and sig.num_labels != classes:
                return (
                    f"N={count} is not the candidate count of a {sig.height}x{sig.width} head "
                    f"({' or '.join(map(str, sorted(anchors)))}) and C={classes} is not the labels' count"
                )
        return Fit({"predictions": 0}, classes)

    return fit


def _fit_anchor_free(sig: Signature, strict: bool) -> Fit | str:
    """distances (or boxes) [1, N, 4] and scores [1, N, C], by the roles the metadata names (never by
    order or size)."""
    if len(sig.outputs) != 2:
        return f"expects two outputs (distances or boxes, and scores), found {len(sig.outputs)}"
    roles = sig.roles or {}
    kind = "distances" if "distances" in roles else "boxes"
    if set(roles) != {kind, "scores"} or sorted(roles.values()) != [0, 1]:
        return "expects metadata naming which output holds the distances (or boxes) and which the scores"
    boxes, scores = sig.outputs[roles[kind]].shape, sig.outputs[roles["scores"]].shape
    if len(boxes) != 3 or boxes[0] != 1 or boxes[2] != 4:
        return f"expects {kind} of shape [1, N, 4], found {list(boxes)}"
    if len(scores) != 3 or scores[0] != 1 or scores[1] != boxes[1] or scores[2] < 1:
        return f"expects scores of shape [1, {boxes[1]}, C], found {list(scores)}"
    return Fit(dict(roles), int(scores[2]))


def _fit_movenet(sig: Signature, strict: bool) -> Fit | str:
    if len(sig.outputs) != 1 or list(sig.outputs[0].shape) != [1, 1, 17, 3]:
        return f"expects one output of shape [1, 1, 17, 3], found {sig.shapes()}"
    return Fit({"keypoints": 0})


def _fit_movenet_multipose(sig: Signature, strict: bool) -> Fit | str:
    if len(sig.outputs) != 1 or len(sig.outputs[0].shape) != 3 or list(sig.outputs[0].shape)[::2] != [1, 56]:
        return f"expects one output of shape [1, P, 56], found {sig.shapes()}"
    return Fit({"poses": 0})


def _fit_segmentation(sig: Signature, strict: bool) -> Fit | str:
    shape = sig.outputs[0].shape if len(sig.outputs) == 1 else ()
    if len(shape) != 4 or shape[0] != 1 or min(shape[1], shape[2]) < 2 or shape[3] < 2:
        return f"expects one output of shape [1, H, W, C] with C >= 2 classes, found {sig.shapes()}"
    if strict and (shape[1] * sig.width != shape[2] * sig.height) and sig.num_labels != shape[3]:
        return f"a {shape[1]}x{shape[2]} map is not the input's {sig.height}x{sig.width} aspect"
    return Fit({"masks": 0}, int(shape[3]))


POSE_CHANNELS = 4 + 1 + 17 * 3  # Ultralytics pose: box, person score, 17 x (x, y, visibility)


def _fit_yolo_pose(sig: Signature, strict: bool) -> Fit | str:
    shape = list(sig.outputs[0].shape) if len(sig.outputs) == 1 else []
    if len(shape) != 3 or shape[0] != 1 or shape[1] != POSE_CHANNELS:
        return f"expects one output of shape [1, {POSE_CHANNELS}, N], found {sig.shapes()}"
    if strict and shape[2] not in anchor_counts(sig.height, sig.width, 1):
        return f"N={shape[2]} is not the candidate count of a {sig.height}x{sig.width} head"
    return Fit({"predictions": 0}, 1)


def proto_layout(shape: tuple[int, ...], height: int, width: int) -> tuple[int, bool]:
    """Mask prototypes [1, H, W, M] or [1, M, H, W] -> (M, channels first). The prototype grid is a
    quarter of the input (160 x 160 at 640 px), which tells the axes apart; channels last (TFLite's
    own) when both readings fit, and the smaller axis as M when neither does."""
    grid = (height // 4, width // 4)
    if tuple(shape[1:3]) == grid:
        return shape[3], False
    if tuple(shape[2:4]) == grid:
        return shape[1], True
    channels_first = shape[1] < shape[3]
    return (shape[1] if channels_first else shape[3]), channels_first


def _fit_yolo_seg(sig: Signature, strict: bool) -> Fit | str:
    ranks = [len(o.shape) for o in sig.outputs]
    if sorted(ranks) != [3, 4]:
        return f"expects a [1, 4+C+M, N] output and [1, H, W, M] prototypes, found {sig.shapes()}"
    pred, protos = ranks.index(3), ranks.index(4)
    shape, masks = sig.outputs[pred].shape, proto_layout(sig.outputs[protos].shape, sig.height, sig.width)[0]
    classes = shape[1] - 4 - masks
    if shape[0] != 1 or classes < 1:
        return f"expects [1, 4+C+{masks}, N] with one class or more beside the masks, found {list(shape)}"
    if strict and shape[2] not in anchor_counts(sig.height, sig.width, 1) and sig.num_labels != classes:
        return f"N={shape[2]} is not the candidate count of a {sig.height}x{sig.width} head"
    return Fit({"predictions": pred, "protos": protos}, classes)


LAYOUTS: tuple[Layout, ...] = (
    Layout("class_scores", "classify", "[1, C] class scores", "stretch", None, None, _fit_class_scores),
    Layout(
        "ssd",
        "detect",
        f"{SSD_OP} outputs: boxes [1, N, 4], classes [1, N], scores [1, N], count [1]",
        "stretch",
        None,
        None,
        _fit_ssd,
    ),
    Layout(
        "yolov8",
        "detect",
        "Ultralytics YOLOv8/YOLO11 raw [1, 4+C, N]: cx, cy, w, h, class scores",
        "letterbox",
        (0.0,),
        (255.0,),
        _fit_yolo(channels_first=True, objectness=False),
    ),
    Layout(
        "yolov5",
        "detect",
        "Ultralytics YOLOv5 raw [1, N, 5+C]: cx, cy, w, h, objectness, class scores",
        "letterbox",
        (0.0,),
        (255.0,),
        _fit_yolo(channels_first=False, objectness=True),
    ),
    Layout(
        "anchor_free",
        "detect",
        "distances [1, N, 4] (from anchor points, 0..1 of a level's reach; or boxes, normalised xyxy) and "
        "scores [1, N, C] (sigmoid), named by the metadata",
        "letterbox",
        None,
        None,
        _fit_anchor_free,
    ),
    Layout(
        "yolov8_pose",
        "pose",
        f"Ultralytics YOLOv8/YOLO11-pose raw [1, {POSE_CHANNELS}, N]: cx, cy, w, h, score, 17 x (x, y, v)",
        "letterbox",
        (0.0,),
        (255.0,),
        _fit_yolo_pose,
    ),
    Layout(
        "yolov8_seg",
        "detect",
        "Ultralytics YOLOv8/YOLO11-seg raw [1, 4+C+32, N] and prototypes [1, H, W, 32] (either order)",
        "letterbox",
        (0.0,),
        (255.0,),
        _fit_yolo_seg,
    ),
    Layout(
        "movenet",
        "pose",
        "MoveNet SinglePose (Lightning, Thunder) [1, 1, 17, 3]: y, x, score per keypoint, normalised",
        "stretch",
        (0.0,),
        (1.0,),
        _fit_movenet,
    ),
    Layout(
        "movenet_multipose",
        "pose",
        "MoveNet MultiPose [1, P, 56]: 17 x (y, x, score), then ymin, xmin, ymax, xmax, score",
        "letterbox",
        (0.0,),
        (1.0,),
        _fit_movenet_multipose,
    ),
    Layout(
        "segmentation",
        "segment",
        "semantic segmentation [1, H, W, C]: class logits or probabilities per pixel (e.g. DeepLab v3)",
        "stretch",
        (127.5,),
        (127.5,),
        _fit_segmentation,
    ),
)
BY_NAME = {layout.name: layout for layout in LAYOUTS}
TASKS = tuple(dict.fromkeys(layout.task for layout in LAYOUTS))
ULTRALYTICS_TASKS = {"detect": "detect", "classify": "classify", "pose": "pose", "segment": "detect"}


def _named(name: str, task: str | None, sig: Signature, source: str) -> tuple[Layout, Fit, str]:
    if name not in BY_NAME:
        raise EdgeError(f"unknown layout {name!r} (from {source}): choose one of {', '.join(BY_NAME)}")
    layout = BY_NAME[name]
    if task is not None and layout.task != task:
        raise EdgeError(f"layout {name} is a {layout.task} layout, but the task is {task}")
    fit = layout.fit(sig, False)
    if isinstance(fit, str):
        raise EdgeError(f"outputs {sig.shapes()} do not fit layout {name} (from {source}): {fit}")
    return layout, fit, source


def _listing(layouts: list[Layout]) -> str:
    return "; ".join(f"{layout.name}: {layout.summary}" for layout in layouts)


def choose_layout(
    sig: Signature,
    task: str | None = None,
    layout: str | None = None,
    hints: dict | None = None,
) -> tuple[Layout, Fit, str]:
    """The one layout that fits, with where it came from: a flag, the metadata, or the signature.

    ``task`` and ``layout`` are the user's flags; ``hints`` the model's own word (``task``,
    ``layout``, ``task_from``). Raises ``EdgeError`` listing the candidates when it cannot tell.
    """
    hints = hints or {}
    if task is not None and task not in TASKS:
        raise EdgeError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}")
    if layout is not None:
        return _named(layout, task, sig, "--layout")
    source = "signature"
    if task is None and hints.get("task") is not None:
        task, source = hints["task"], f"signature, task from {hints.get('task_from', 'metadata')}"
        if task not in TASKS:
            raise EdgeError(
                f"the model's {hints.get('task_from', 'metadata')} says task {task!r}, which this version "
                f"does not run (it runs {', '.join(TASKS)})"
            )
    if hints.get("layout") is not None:
        return _named(hints["layout"], task, sig, hints.get("task_from", "metadata"))
    pool = [lay for lay in LAYOUTS if task is None or lay.task == task]
    fits = [(lay, lay.fit(sig, True)) for lay in pool]
    found = [(lay, fit) for lay, fit in fits if isinstance(fit, Fit)]
    if len(found) == 1:
        return (*found[0], source)
    if found:
        raise EdgeError(
            f"outputs {sig.shapes()} fit more than one layout ({_listing([lay for lay, _ in found])}): "
            "pass --layout to say which"
        )
    loose = [lay for lay in pool if isinstance(lay.fit(sig, False), Fit)]
    why = "; ".join(f"{lay.name} {fit}" for lay, fit in fits)
    if loose:
        raise EdgeError(
            f"cannot tell what outputs {sig.shapes()} mean ({why}); they have the shape of "
            f"{' or '.join(lay.name for lay in loose)}: pass --layout to say which"
        )
    which = f"the {task} layouts" if task is not None else "the layouts"
    raise EdgeError(f"outputs {sig.shapes()} fit none of {which} this version reads ({why})")
