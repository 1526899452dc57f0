"""Tells you what your hardware really does for your models: calibrate, store, analyse, estimate.

Modules:

- `calibkit.tables`: The tables calibkit prints: what a calibration measured (GEMM, memory-bound kernels, precisions), the registry's listings, and comparisons of two calibrations."""

__version__ = "0.1.0"
