"""The live pipeline: capture, inference and outputs in threads with bounded hand-offs (``loop``), and
the run's statistics in constant memory (``stats``)."""
