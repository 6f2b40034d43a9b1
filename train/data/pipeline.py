"""tf.data pipelines over image folders: decode with edge code, cache, shuffle, augment, batch."""

from __future__ import annotations

import numpy as np

from edge.sources.images import ImageFolder
from train.data.folders import load_input, normalize


def make_dataset(folder: ImageFolder, size: int, batch_size: int, training: bool, seed: int = 0):
    """tf.data: decode (edge code) -> cache -> shuffle -> augment -> batch -> normalise -> prefetch."""
    import tensorflow as tf

    paths = [str(p) for p in folder.paths]
    labels = np.array(folder.labels, dtype=np.int32)

    def decode(path):
        image = tf.numpy_function(lambda p: load_input(p.decode(), size, size), [path], tf.uint8)
        image.set_shape((size, size, 3))
        return image

    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    ds = ds.map(lambda p, y: (decode(p), y), num_parallel_calls=tf.data.AUTOTUNE).cache()
    if training:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size).map(lambda x, y: (normalize(tf.cast(x, tf.float32)), y))
    options = tf.data.Options()  # several workers: each takes its share of every batch
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


def _augment(image, label):
    import tensorflow as tf

    x = tf.cast(image, tf.float32)
    x = tf.image.random_flip_left_right(x)
    x = tf.image.random_flip_up_down(x)
    x = tf.image.random_brightness(x, 20.0)
    x = tf.image.random_contrast(x, 0.8, 1.2)
    return tf.clip_by_value(x, 0.0, 255.0), label
