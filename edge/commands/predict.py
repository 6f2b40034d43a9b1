"""``edgesight predict MODEL IMAGE...``: classes, boxes, poses or a class map of each image, as text or
JSON lines; with ``--save DIR``, each image annotated as ``run`` draws its frames."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge.commands.options import add_model_options, load_task
from edge.errors import EdgeError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("predict", help="classify, detect, estimate poses or segment images with a .tflite")
    p.add_argument("model", type=Path)
    p.add_argument("images", nargs="+", type=Path, help="image files, or folders of them")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    p.add_argument(
        "--save",
        type=Path,
        metavar="DIR",
        help="folder to write each image to, annotated as run draws frames, under its own name",
    )
    add_model_options(p)
    return p


def print_result(path: Path, result) -> None:
    from edge.tasks.results import Classes, Poses, Segmentation, percent

    print(f"{path}:")
    if isinstance(result, Classes):
        for cid, label, score in zip(result.ids, result.labels, result.scores):
            print(f"  {score:6.3f}  {label if label is not None else '-'}  (id {cid})")
        return
    if isinstance(result, Segmentation):
        for cid, label, share in zip(result.class_ids, result.labels, result.shares):
            print(f"  {percent(share, 1):>6s}  {label if label is not None else '-'}  (id {cid})")
        return
    if isinstance(result, Poses):
        if not len(result):
            print("  no poses")
        people = zip(result.xyxy, result.scores, result.keypoints, result.keypoint_scores)
        for box, score, points, kps in people:
            corners = ", ".join(f"{v:.0f}" for v in box)
            print(f"  {score:6.3f}  person  [{corners}]")
            for name, (x, y), s in zip(result.names, points, kps):
                print(f"      {s:5.2f}  {name} ({x:.0f}, {y:.0f})")
        return
    if not len(result):
        print("  no detections")
    for box, cid, label, score in zip(result.xyxy, result.class_ids, result.labels, result.scores):
        corners = ", ".join(f"{v:.0f}" for v in box)
        print(f"  {score:6.3f}  {label if label is not None else '-'}  (id {cid})  [{corners}]")


def _images(path: Path) -> list[Path]:
    """An image file, or the images in a folder (not its subfolders), by name."""
    from edge.sources.images import IMAGE_EXTENSIONS, images_in

    if path.is_file():
        return [path]
    if not path.is_dir():
        raise EdgeError(f"image not found: {path}")
    found = images_in(path)
    if not found:
        raise EdgeError(f"no images in folder {path} ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return found


def saved_names(paths: list[Path], folder: Path) -> list[Path]:
    """Where ``--save`` writes each image: ``folder`` / its name, ``-2``, ``-3``... added when two
    share a name, ``.png`` when OpenCV cannot write its own format. Never an input file."""
    import cv2

    taken: set[str] = set()
    out = []
    for path in paths:
        suffix = path.suffix if cv2.haveImageWriter(f"x{path.suffix}") else ".png"
        name, n = f"{path.stem}{suffix}", 1
        while name.lower() in taken:
            n += 1
            name = f"{path.stem}-{n}{suffix}"
        taken.add(name.lower())
        out.append(folder / name)
    inputs = {p.resolve() for p in paths}
    for target in out:
        if target.resolve() in inputs:
            raise EdgeError(f"--save {folder}: would write over the input image {target}")
    return out


def handle(args: argparse.Namespace) -> int:
    """Each image in turn. One that cannot be decoded (corrupt, truncated, not an image) is a line
    on standard error and the rest are still done, as ``run`` does with a folder; the exit is then
    2, with a count when there were others. Any other error (permissions, a full disk) stops."""
    from edge.sources.images import UnreadableImage, read_image
    from edge.tasks.results import record

    with load_task(args) as task:
        paths = [image for path in args.images for image in _images(path)]  # all checked before the first
        targets = saved_names(paths, args.save) if args.save else [None] * len(paths)
        if args.save:
            from edge.sinks.files import make_folder, write_image
            from edge.sinks.render import draw

            make_folder(args.save)
        unreadable = 0
        for path, target in zip(paths, targets):
            task.reset()  # each image on its own: nothing carried over from the one before
            try:
                image = read_image(path)
            except UnreadableImage as exc:
                print(f"edgesight: error: {exc}", file=sys.stderr, flush=True)
                unreadable += 1
                continue
            result = task(image)
            if target is not None:
                write_image(target, draw(image, result, copy=False))
            if args.json:
                extra = {"saved": str(target)} if target is not None else {}
                print(json.dumps(record(result, image=str(path), **extra)))
            else:
                print_result(path, result)
                if target is not None:
                    print(f"  saved: {target}")
    if unreadable and len(paths) > 1:
        done = f"{len(paths) - unreadable} done" if unreadable < len(paths) else "none done"
        print(
            f"edgesight: error: {unreadable} of {len(paths)} images could not be read, {done}",
            file=sys.stderr,
        )
    return 2 if unreadable else 0
