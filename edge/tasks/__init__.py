"""Tensors in, results out: preprocessing, quantization, the task decoders (classify, SSD, YOLO), NMS
and the result types. ``edge.tasks.loader.load`` reads a model and returns the task that runs it."""
