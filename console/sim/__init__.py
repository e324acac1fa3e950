"""The simulated cluster: the embedded default for ``demo``, tests and benchmarks."""
