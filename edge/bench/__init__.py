"""Benchmarks on the device: invoke latency (``latency``, ``invoke``), the pipeline per stage
(``stages``), sustained throughput (``sustained``), memory, the device record, reports and comparisons.
``edgesight bench`` runs them through ``command``."""

from edge.bench.latency import Latency, measure_invoke, random_inputs

__all__ = ["Latency", "measure_invoke", "random_inputs"]
