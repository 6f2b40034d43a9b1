"""From ImageNet weights against from scratch, on small data, with the same data and epochs.

Two datasets:
- ``shapes``: 20 training images per class of the built-in data (100 validation images per class);
- ``people``: a few-shot set of real photos made from ../shared/assets: person crops and not-person
  crops. The SSD model finds the person in the pose clip; person crops are squares around its box,
  not-person crops are squares of the same room away from the box, and road crops of the traffic clip.
  Training uses the clips' first half (10 person crops, 20 others); validation the second half plus
  whole photos (three of people, five without), which come from elsewhere entirely.

For each, ``edgesight train --model mobilenet_v1 --alpha 0.25`` runs twice, ``--weights imagenet``
(the weights tools/imagenet_from_tflite.py puts in Keras' cache, made first if missing) and
``--weights none``. Prints a Markdown table.

    python tools/finetune_compare.py [--out runs/finetune] [--epochs 30] [--data shapes,people]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testbed import IMAGES, SSD_LABELS, SSD_MODEL, VIDEO  # noqa: E402

PERSON_PHOTOS = ("grace_hopper.jpg", "yoga_pose.jpg", "squat.bmp")
OTHER_PHOTOS = ("burger.jpg", "cat_720p.jpg", "pets.jpg", "cats_and_dogs.jpg", "traffic_0001.bmp")
CROP = 224


def frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, image = cap.read()
        if not ok:
            return out
        out.append(image)


def square(image: np.ndarray, cx: float, cy: float, side: float) -> np.ndarray:
    h, w = image.shape[:2]
    side = int(min(side, h, w))
    x0 = int(np.clip(cx - side / 2, 0, w - side))
    y0 = int(np.clip(cy - side / 2, 0, h - side))
    return cv2.resize(image[y0 : y0 + side, x0 : x0 + side], (CROP, CROP), interpolation=cv2.INTER_AREA)


def person_and_room(image: np.ndarray, detector) -> tuple[np.ndarray, np.ndarray] | None:
    """A square around the person, and one of the room as far from it as the frame allows."""
    people = [(b, s) for b, s, lb in zip(detector.xyxy, detector.scores, detector.labels) if lb == "person"]
    if not people:
        return None
    (x0, y0, x1, y1), _ = max(people, key=lambda p: p[1])
    h, w = image.shape[:2]
    side = max(x1 - x0, y1 - y0) * 1.1
    person = square(image, (x0 + x1) / 2, (y0 + y1) / 2, side)
    left, right = x0, w - x1  # room free of the person on each side
    room_side = min(max(left, right), 0.5 * min(h, w))
    if room_side < 0.25 * min(h, w):
        return None  # the person fills the frame
    far_x = room_side / 2 if left > right else w - room_side / 2
    return person, square(image, far_x, h * 0.55, room_side)


def people_dataset(out: Path) -> Path:
    import edge

    for split in ("train", "val"):
        for cls in ("person", "not_person"):
            (out / split / cls).mkdir(parents=True, exist_ok=True)
    pose, road = frames(VIDEO / "pose_1.mp4"), frames(VIDEO / "traffic_frames.mp4")
    rng = np.random.default_rng(0)
    counts = {"train": [0, 0], "val": [0, 0]}
    with edge.load(SSD_MODEL, overrides=edge.Overrides(labels=SSD_LABELS), threshold=0.4) as ssd:
        for i in range(0, len(pose), 4):
            split = "train" if i < len(pose) // 2 else "val"
            found = person_and_room(pose[i], ssd(pose[i]))
            if found is None or (split == "train" and counts["train"][0] >= 10):
                continue
            for cls, crop in zip(("person", "not_person"), found):
                cv2.imwrite(str(out / split / cls / f"pose_{i:03d}.png"), crop)
            counts[split] = [counts[split][0] + 1, counts[split][1] + 1]
    for i, image in enumerate(road):
        split = "train" if i < len(road) // 2 else "val"
        h, w = image.shape[:2]
        cx, cy = rng.uniform(h / 2, w - h / 2), h / 2
        cv2.imwrite(str(out / split / "not_person" / f"road_{i:03d}.png"), square(image, cx, cy, h))
    for name, cls in [*((n, "person") for n in PERSON_PHOTOS), *((n, "not_person") for n in OTHER_PHOTOS)]:
        image = cv2.imread(str(IMAGES / name))
        cv2.imwrite(str(out / "val" / cls / f"photo_{Path(name).stem}.png"), square(image, image.shape[1] / 2,
                    image.shape[0] / 2, min(image.shape[:2])))  # fmt: skip
    return out


def shapes_dataset(out: Path) -> Path:
    from train.data.shapes import generate_shapes

    return generate_shapes(out, per_class=20, val_per_class=100, seed=7)


def train(data: Path, run: Path, weights: str, size: int, epochs: int) -> dict:
    command = [sys.executable, "-m", "edge.cli", "train", str(data), "--out", str(run), "--model",
               "mobilenet_v1", "--alpha", "0.25", "--size", str(size), "--epochs", str(epochs),
               "--weights", weights, "--batch-size", "16"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"training failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads((run / "run.json").read_text())


def photo_accuracy(run: Path, data: Path) -> str:
    """Accuracy of the run's Keras model on the val photos alone (not from the clips)."""
    from train.quiet import import_tensorflow

    import_tensorflow()  # its start-up lines kept out of the table
    import keras

    model = keras.models.load_model(run / "model.keras")
    labels = (run / "labels.txt").read_text().split()
    right = total = 0
    for path in sorted((data / "val").glob("*/photo_*.png")):
        rgb = cv2.cvtColor(cv2.resize(cv2.imread(str(path)), model.input_shape[1:3]), cv2.COLOR_BGR2RGB)
        probs = model.predict(((rgb - 127.5) / 127.5)[None].astype(np.float32), verbose=0)[0]
        right += labels[int(np.argmax(probs))] == path.parent.name
        total += 1
    return f"{right}/{total}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "finetune")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--data", default="shapes,people", help="which datasets (default both)")
    args = parser.parse_args(argv)
    chosen = args.data.split(",")
    if set(chosen) - {"shapes", "people"}:
        parser.error(f"--data takes shapes and people, got {args.data}")
    import imagenet_from_tflite

    cache = imagenet_from_tflite.keras_cache() / "mobilenet_2_5_224_tf_no_top.h5"
    if not cache.is_file():
        imagenet_from_tflite.main([])
    datasets = {
        "shapes": ("shapes, 20 per class (96 px)", shapes_dataset, "shapes20", 96),
        "people": ("people, 10 + 20 crops (224 px)", people_dataset, "people", 224),
    }
    print("| data | weights | validation accuracy | photos only | epochs |")
    print("|---|---|---|---|---|")
    for slug in chosen:
        title, make, folder, size = datasets[slug]
        data = make(args.out / folder)
        for weights in ("imagenet", "none"):
            run = args.out / f"{slug}-{weights}"
            info = train(data, run, weights, size, args.epochs)
            photos = photo_accuracy(run, data) if slug == "people" else "-"
            print(f"| {title} | {weights} | {info['val_accuracy']:.1%} of {info['val_images']} | {photos} | "
                  f"{args.epochs} |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
