"""Datasets: the built-in data, image folders and their splits, tf.data pipelines, calibration."""
