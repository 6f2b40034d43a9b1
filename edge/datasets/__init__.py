"""Labelled data on disk for detectors: COCO, Pascal VOC and YOLO folders, told apart by their layout
(never guessed), read into one ``DetectionSet`` with broken labels counted. Pure numpy and the
standard library (PyYAML for YOLO's data.yaml), so ``edgesight eval`` runs them on the device."""
