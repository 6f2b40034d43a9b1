"""Accuracy of a ``.tflite`` on labelled data, through the code path the device runs."""
