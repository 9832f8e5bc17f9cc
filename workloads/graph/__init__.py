"""Graph embedding workloads: real and synthetic graphs, and three kernels as bags of row reads.

Split by concern: :mod:`.graphs` (the data), :mod:`.bags` (bag splitting, the host step),
:mod:`.sage`, :mod:`.fastrp` and :mod:`.pbg` (the kernels); everything public imports from here.

Graphs
    :class:`Graph` is a CSR adjacency (``indptr``, ``indices``). Sources: graph-tool's binary
    ``.gt.gz`` files (:func:`read_gt`; :func:`load_graph` reads the 19 graphs of graph-tool's
    collection from the ``graphs`` dataset), the small graphs networkx ships
    (:func:`networkx_graph`, when networkx is installed; it is not a dependency), Zachary's
    karate club written out here (:func:`karate_club`, a real graph the tests can use without
    any data) and a seeded R-MAT generator with the Graph500 parameters (:func:`rmat`).
    :meth:`Graph.symmetrised`, :meth:`Graph.simple` (no self-loops, no duplicate arcs) and
    :meth:`Graph.relabelled` (a vertex permutation: vertex order sets the locality of the row
    reads, so it is a workload parameter) prepare a graph for a kernel.

Kernels (each a :class:`GraphKernel`: a :class:`~rtnerf.workloads.kernel.BagKernel` plus the
host-side step that turns its bags into the kernel's output)
    * :func:`sage_kernel`: GraphSAGE mean aggregation over sampled 2-hop neighbourhoods
      (fan-outs 25 and 10 as in the paper);
    * :func:`fastrp_kernel`: one FastRP propagation step ``D^-1 A R`` (one bag per node of
      its neighbours, weights ``1 / deg``) over the very sparse projection :func:`fastrp_projection`
      or over a previous step's (dense) output;
    * :func:`pbg_kernel`: PyTorch-BigGraph edge scoring with shared negatives (chunks of 50
      positive edges, batch and uniform negatives, dot comparator) as pairs of one-row bags.

    Each has a direct implementation from the graph definition (:func:`sage_direct`,
    :func:`fastrp_direct`, :func:`pbg_direct`) that the tests check the bag form against.

Bag length
    The engine pools at most ``max_bag`` (64 by default) lookups per bag. Longer bags are
    **split** into consecutive partial bags of at most ``max_bag`` lookups, each with the full
    bag's weights, and the host sums the partial bags of an output
    (:meth:`GraphKernel.combine`); nothing is dropped or capped. Only FastRP has long bags (hub
    neighbourhoods); sampled GraphSAGE bags are 25 and 10 long.

Fixed point
    Mean weights ``1 / |bag|`` go to the engine with ``weight_frac_bits`` (8 by default)
    fraction bits: ``1 / 25`` becomes ``10 / 256`` (-2.3 %), and ``1 / deg`` rounds to 0 above
    degree 512, so FastRP on hub-heavy graphs should sum on the engine and divide on the host
    (``fastrp_kernel(..., host_mean=True)``, with output headroom).
"""

from __future__ import annotations

from .bags import GraphKernel, split_bags
from .fastrp import fastrp_direct, fastrp_embedding, fastrp_kernel, fastrp_projection
from .graphs import GRAPH500, Graph, karate_club, load_graph, networkx_graph, read_gt, rmat
from .pbg import pbg_direct, pbg_edges, pbg_kernel
from .sage import sage_direct, sage_kernel, sage_samples

__all__ = [
    "GRAPH500",
    "Graph",
    "GraphKernel",
    "fastrp_direct",
    "fastrp_embedding",
    "fastrp_kernel",
    "fastrp_projection",
    "karate_club",
    "load_graph",
    "networkx_graph",
    "pbg_direct",
    "pbg_edges",
    "pbg_kernel",
    "read_gt",
    "rmat",
    "sage_direct",
    "sage_kernel",
    "sage_samples",
    "split_bags",
]
