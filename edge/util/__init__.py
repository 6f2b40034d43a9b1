"""Small helpers every stage may use: file digests, text tables, OpenCV build facts, native
libraries kept quiet."""
