"""NeRF workload: TensoRF VM scenes fitted to real scans, uniform and RT-NeRF renderers.

Modules: :mod:`.volume` (mesh/volume readers, voxelisation, scene volumes), :mod:`.model` (the
:class:`~.model.TensorfVM` model and its tables), :mod:`.fit` (fitting, the sparse refit,
caching), :mod:`.camera` (cameras and rays), :mod:`.shading` (the per-sample kernels),
:mod:`.render` (the two numba renderers), :mod:`.storage` (pruning, quantisation, encoding and
DRAM bytes per frame), :mod:`.study` (``rtnerf render``'s study and summary), :mod:`.accel`
(lookup-engine traces), :mod:`.texel` (texel-vector storage), :mod:`.datapath` and
:mod:`.stream` (whole frames on the sparse-embedding datapath, streaming visits).
"""

__all__ = ["SCENES"]

#: Scene name -> (dataset, file in its folder) for the real scenes; ``test`` is generated. Kept
#: here, free of numba, so that the CLI can list the scenes without compiling anything.
SCENES = {
    "bunny": ("meshes", "bunny00.off"),
    "armadillo": ("meshes", "armadillo.off"),
    "dragon": ("meshes", "ChineseDragon-10kv.off"),
    "frog": ("frog", "frog_tissues.vti"),
    "test": (None, None),
}
