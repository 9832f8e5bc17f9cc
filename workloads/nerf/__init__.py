"""NeRF workload: TensoRF VM scenes fitted to real scans, uniform and RT-NeRF renderers.

Modules: :mod:`.volume` (mesh/volume readers, voxelisation, scene volumes), :mod:`.model` (the
:class:`~.model.TensorfVM` model and its tables), :mod:`.fit` (fitting and caching),
:mod:`.render` (cameras and the two numba renderers), :mod:`.storage` (pruning, quantisation,
encoding and DRAM bytes per frame).
"""
