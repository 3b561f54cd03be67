"""Approximate k-nearest candidates for large populations: an HNSW graph (faiss), for ``neighbour_search: hnsw``.

Shell module (imports faiss; ``pip install 'interacting-gmm[ann]'``): it
registers :func:`hnsw_candidate_pairs` in
:data:`igmm.dynamics.partners.CANDIDATE_SEARCHES` when imported, and the core's
:func:`igmm.dynamics.partners.k_nearest` imports it the first time a
configuration asks for ``neighbour_search: hnsw``. Never the default.
"""

from __future__ import annotations

import numpy as np

try:
    import faiss
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError("neighbour_search 'hnsw' needs faiss: pip install 'interacting-gmm[ann]' (faiss-cpu)") from error

from igmm.dynamics import partners

#: Below this many distinct weight vectors the "hnsw" search is exact (the exact search is cheap there).
ANN_MIN_GROUPS = 4096
#: HNSW graph parameters (faiss IndexHNSWFlat): links per node, and the candidate lists at build and search.
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 16, 40, 64


def hnsw_candidate_pairs(distinct: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Approximate ``size`` nearest groups of every distinct vector, from a faiss HNSW graph.

    The graph is built on one thread (faiss adds vectors in parallel in an
    order that depends on the threads; one thread makes a seeded run
    reproducible) and searched on all. Every vector is its own candidate. The
    distances that rank the candidates are then the exact ones
    (:func:`igmm.dynamics.partners.grouped_nearest_neighbours`), so the result is exact wherever the
    graph found the true neighbours; what it misses is the approximation
    (its recall is measured in docs/performance.md). Exact below
    :data:`ANN_MIN_GROUPS` distinct vectors.
    """
    n_groups, n_components = distinct.shape
    if n_groups < ANN_MIN_GROUPS:
        return partners._candidate_pairs(distinct, size)
    data = np.ascontiguousarray(distinct, dtype=np.float32)
    index = faiss.IndexHNSWFlat(n_components, HNSW_M)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        index.add(data)
    finally:
        faiss.omp_set_num_threads(threads)
    index.hnsw.efSearch = max(HNSW_EF_SEARCH, 2 * size)
    _, found = index.search(data, size)
    first = np.concatenate([np.repeat(np.arange(n_groups), size), np.arange(n_groups)])
    second = np.concatenate([found.reshape(-1).astype(np.int64), np.arange(n_groups)])
    valid = second >= 0
    pairs = np.unique(first[valid] * n_groups + second[valid])
    return np.divmod(pairs, n_groups)


partners.CANDIDATE_SEARCHES["hnsw"] = hnsw_candidate_pairs
