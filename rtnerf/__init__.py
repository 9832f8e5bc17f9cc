"""rtnerf: a hardware/software co-design toolkit for sparse-embedding accelerators.

The package is assembled from the repository's top-level folders: ``rtnerf.rtl`` (Amaranth
components), ``rtnerf.sim`` (cocotb testbenches and the simulator runner), ``rtnerf.models``
(golden, performance and encoding models) and ``rtnerf.workloads``.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
