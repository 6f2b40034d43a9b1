"""tf.data for detection: a sample (numpy: read, augment, assign targets) per element, in parallel,
batched as (image in [-1, 1], targets (N, 5): class then box) for the detection loss."""

from __future__ import annotations

import cv2
import numpy as np

from edge.datasets.boxes import DetectionSet
from train.data.assign import assign
from train.data.detect_augment import Augment, ImageCache, flip_and_colour, letterboxed, mosaic, random_crop
from train.models.detector import anchors_for


class Sampler:
    """Training or validation samples of a detection split, as the model is fed them."""

    def __init__(self, data: DetectionSet, size: int, training: bool, augment: Augment | None = None) -> None:
        self.data = data
        self.size = size
        self.training = training
        self.augment = augment or Augment()
        self.anchors = anchors_for(size)
        self.cache = ImageCache()

    def image(self, index: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(RGB image size x size, boxes in input pixels, classes, ignore) of element ``index``."""
        record = self.data.images[index]
        if not self.training:
            image, boxes, classes, ignore = letterboxed(self.cache.read(record), record, self.size)
        else:
            rng = np.random.default_rng([seed, index])
            if rng.random() < self.augment.mosaic and len(self.data) >= 4:
                picks = [index, *rng.integers(0, len(self.data), 3)]
                records = [self.data.images[i] for i in picks]
                images = [self.cache.read(r) for r in records]
                image, boxes, classes, ignore = mosaic(images, records, self.size, self.augment, rng)
            else:
                image, boxes, classes, ignore = random_crop(self.cache.read(record), record, self.size,
                                                            self.augment, rng)  # fmt: skip
            image, boxes = flip_and_colour(image, boxes, self.augment, rng)
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), boxes, classes, ignore

    def sample(self, index: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(image uint8, targets (N, 5) float32: class id, -1 background, -2 ignored; then the box)."""
        image, boxes, classes, ignore = self.image(index, seed)
        cls, box = assign(self.anchors, boxes, classes, ignore)
        return image, np.concatenate([cls[:, None].astype(np.float32), box], axis=1)


def make_detect_dataset(sampler: Sampler, batch_size: int, seed: int = 0):
    """Batches of (image float32 in [-1, 1], targets (N, 5)); shuffled and re-augmented every epoch."""
    import tensorflow as tf

    n = len(sampler.data)
    size, anchors = sampler.size, sampler.anchors.count

    def load(index, element_seed):
        image, targets = tf.numpy_function(
            lambda i, s: sampler.sample(int(i), int(s) & 0x7FFFFFFF),
            [index, element_seed],
            [tf.uint8, tf.float32],
        )
        image.set_shape((size, size, 3))
        targets.set_shape((anchors, 5))
        return image, targets

    indices = tf.data.Dataset.range(n)
    if sampler.training:
        indices = indices.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed) if sampler.training else tf.data.Dataset.range(n)
    ds = tf.data.Dataset.zip((indices, seeds)).map(load, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size).map(lambda x, y: ((tf.cast(x, tf.float32) - 127.5) / 127.5, y))
    return ds.prefetch(tf.data.AUTOTUNE)
