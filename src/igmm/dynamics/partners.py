"""Partner selection: mirroring with probability p, else a uniform draw among the k nearest agents."""

from __future__ import annotations

import numpy as np

from igmm.dynamics.state import U_MIRROR, U_PARTNER, StepNoise


def weight_distances(weights: np.ndarray) -> np.ndarray:
    """Euclidean distances between the weight vectors of all pairs of agents.

    Parameters
    ----------
    weights : ndarray of float64, shape (n_reps, n_agents, n_components)

    Returns
    -------
    ndarray of float64, shape (n_reps, n_agents, n_agents)
        Exactly symmetric, zero on the diagonal.
    """
    # Explicit differences (not the Gram-matrix trick) keep D exactly symmetric,
    # so the tie rule of the k-nearest selection is the same from both ends.
    # Only pairs i < j are computed, then mirrored: (w_j - w_i)^2 has the same bits as (w_i - w_j)^2.
    n_agents = weights.shape[-2]
    first, second = np.triu_indices(n_agents, 1)
    upper = pair_distances(np.moveaxis(weights, -1, 0), first, second)
    distances = np.zeros(weights.shape[:-1] + (n_agents,))
    distances[..., first, second] = upper
    distances[..., second, first] = upper
    return distances


def pair_distances(columns: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Euclidean distances between agents ``first`` and ``second``, summed one component at a time.

    Parameters
    ----------
    columns : ndarray of float64, shape (n_components, ..., n_agents)
        The weights with the component axis first (a view is enough).
    first, second : ndarray of int, shape (n_pairs,)

    Returns
    -------
    ndarray of float64, shape (..., n_pairs)
        ``sqrt(sum_k (w_first,k - w_second,k)^2)``, the sum taken in component
        order. A fixed, documented order (not einsum's, which depends on the
        SIMD path) lets the compiled search of the numba backend round every
        distance identically, so both keep the same ties.
    """
    squared = np.zeros(columns.shape[1:-1] + (len(first),))
    for column in columns:
        diff = column[..., first] - column[..., second]
        squared += diff * diff
    return np.sqrt(squared)


def nearest_neighbours(distances: np.ndarray, k: int) -> np.ndarray:
    """The k agents nearest to each agent, excluding itself.

    Ties are broken by the lowest agent index (a stable sort on distance).

    Parameters
    ----------
    distances : ndarray of float64, shape (n_reps, n_agents, n_agents)
    k : int
        1 <= k <= n_agents - 1.

    Returns
    -------
    ndarray of int64, shape (n_reps, n_agents, k)
        Neighbour indices ordered by distance, then by index.
    """
    n_agents = distances.shape[-1]
    masked = distances.copy()
    diagonal = np.arange(n_agents)
    masked[..., diagonal, diagonal] = np.inf  # never one's own neighbour
    return np.argsort(masked, axis=-1, kind="stable")[..., :k]


def choose_partners(
    weights: np.ndarray,
    k: int,
    p: float,
    mirror_uniforms: np.ndarray,
    partner_uniforms: np.ndarray,
    neighbours: np.ndarray | None = None,
    distance_jitter: np.ndarray | None = None,
) -> np.ndarray:
    """Each agent's partner for this step.

    Parameters
    ----------
    weights : ndarray of float64, shape (n_reps, n_agents, n_components)
    k : int
        Communication range (n_agents - 1: complete graph, no distances needed).
    p : float
        Mirroring probability: the partner is the agent itself.
    mirror_uniforms, partner_uniforms : ndarray of float64, shape (n_reps, n_agents)
        U(0, 1) draws deciding mirroring and which neighbour.
    neighbours : ndarray of int, shape (n_agents, max_degree), optional
        A static network's padded neighbour lists (-1 pads). Overrides k.
    distance_jitter : ndarray of float64, shape (n_reps, n_agents, n_agents), optional
        Added to the distances before ranking (the early-draft tie breaker).

    Returns
    -------
    ndarray of int64, shape (n_reps, n_agents)
    """
    n_reps, n_agents, _ = weights.shape
    agents = np.arange(n_agents)
    if neighbours is not None:
        partners = _draw_from_lists(neighbours, partner_uniforms, agents)
    elif k >= n_agents - 1 and distance_jitter is None:
        # Complete graph: uniform over the other agents, skipping oneself.
        draw = np.minimum((partner_uniforms * (n_agents - 1)).astype(np.int64), n_agents - 2)
        partners = draw + (draw >= agents)
    else:
        distances = weight_distances(weights)
        if distance_jitter is not None:
            distances = distances + distance_jitter
        nearest = nearest_neighbours(distances, k)
        pick = np.minimum((partner_uniforms * k).astype(np.int64), k - 1)
        partners = np.take_along_axis(nearest, pick[..., None], axis=-1)[..., 0]
    return np.where(mirror_uniforms < p, agents, partners)


def _draw_from_lists(neighbours: np.ndarray, uniforms: np.ndarray, agents: np.ndarray) -> np.ndarray:
    degree = np.sum(neighbours >= 0, axis=-1)  # (n_agents,)
    pick = np.minimum((uniforms * degree).astype(np.int64), np.maximum(degree - 1, 0))
    chosen = neighbours[agents, pick]
    # An isolated agent (degree 0) can only talk to itself.
    return np.where(degree > 0, chosen, agents)


#: Above this many agents :func:`k_nearest` switches from the dense n x n
#: distance tensor to :func:`grouped_nearest_neighbours`.
DENSE_MAX_AGENTS = 200
#: Relative bound on the rounding error of the Gram-form squared distance used to prefilter candidates.
_GRAM_MARGIN = 1e-10


#: Values of ``ModelParams.neighbour_search``: exact (the default) or approximate (an HNSW graph).
NEIGHBOUR_SEARCHES = ("exact", "hnsw")
#: Approximate candidate searches: name -> ``(distinct, size) -> (first, second)`` pairs of distinct
#: vectors, registered by the shell module named in :data:`SEARCH_MODULES` when it is imported (the core
#: imports no optional library).
CANDIDATE_SEARCHES: dict = {}
SEARCH_MODULES = {"hnsw": "igmm.backends.ann"}


def k_nearest(weights: np.ndarray, k: int, search: str = "exact") -> np.ndarray:
    """The k agents nearest to each agent in weight space (exact; ties: lowest index).

    Dense :func:`weight_distances` + :func:`nearest_neighbours` for small
    populations; :func:`grouped_nearest_neighbours`, replicate by replicate,
    above :data:`DENSE_MAX_AGENTS` agents (same result, memory O(n k + block)).

    Parameters
    ----------
    weights : ndarray of float64, shape (n_reps, n_agents, n_components)
    k : int
    search : str
        "exact", or "hnsw": candidates from an approximate nearest-neighbour
        graph (:mod:`igmm.backends.ann`, needs faiss-cpu), never the default;
        the distances that rank them are exact.

    Returns
    -------
    ndarray of int64, shape (n_reps, n_agents, k)
    """
    if search not in NEIGHBOUR_SEARCHES:
        raise ValueError(f"neighbour_search: {search!r} is not allowed: choose one of {', '.join(NEIGHBOUR_SEARCHES)}")
    if weights.shape[1] <= DENSE_MAX_AGENTS:
        return nearest_neighbours(weight_distances(weights), k)
    candidates = None if search == "exact" else candidate_search(search)
    return np.stack([grouped_nearest_neighbours(replicate, k, candidates) for replicate in weights])


def candidate_search(name: str):
    """The registered approximate candidate search ``name``, importing its shell module the first time."""
    if name not in CANDIDATE_SEARCHES:
        import importlib

        importlib.import_module(SEARCH_MODULES[name])
    return CANDIDATE_SEARCHES[name]


def grouped_nearest_neighbours(weights: np.ndarray, k: int, candidate_pairs=None) -> np.ndarray:
    """Exact k nearest agents of one population, computed over its distinct weight vectors.

    Agents with bitwise-equal weights (common: with well separated components
    the responsibilities are exactly 0 or 1, so weights are multiples of 1/r)
    share their distances, so only the u distinct vectors are compared:

    1. squared distances between distinct vectors in Gram form (one BLAS
       product, u x u), used only to prefilter candidates: for each vector the
       k + 1 smallest values plus a margin far above their rounding error;
    2. exact distances ``sqrt(sum_k (w_ik - w_jk)^2)`` (the formula of
       :func:`weight_distances`) for the candidate pairs only;
    3. each vector's candidates expanded to member agents (the k + 1
       lowest-index members of each group are enough: members of one group tie)
       and ordered by (distance, agent index); each agent drops itself.

    Same result as ``nearest_neighbours(weight_distances(w[None]), k)[0]``.

    Parameters
    ----------
    weights : ndarray of float64, shape (n_agents, n_components)
    k : int
        1 <= k <= n_agents - 1.
    candidate_pairs : callable, optional
        ``(distinct, size) -> (first, second)``: an approximate prefilter
        (e.g. ``CANDIDATE_SEARCHES["hnsw"]``) instead of the exact one.

    Returns
    -------
    ndarray of int64, shape (n_agents, k)
    """
    n_agents, n_components = weights.shape
    if candidate_pairs is not None:
        return _approximate_grouped(weights, k, candidate_pairs)
    if n_components > SUPPORT_MIN_COMPONENTS:
        # Many components: work on the supports (entries above each agent's floor) only.
        floor, index, value = sparse_rows(weights)
        keys = np.concatenate([floor[:, None], index.astype(np.float64), value], axis=1)
        _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        floor, index, value = floor[first], index[first], value[first]
        pair_g, pair_h = _candidate_pairs_sparse(floor, index, value, n_components, k + 1)
        distance = _support_distances_from(floor, index, value, pair_g, pair_h, n_components)
        n_groups = len(first)
    else:
        distinct, group = np.unique(weights, axis=0, return_inverse=True)
        pair_g, pair_h = _candidate_pairs(distinct, k + 1)
        distance = _pair_distances(distinct, pair_g, pair_h)
        n_groups = len(distinct)
    return _expand_groups(group, n_groups, pair_g, pair_h, distance, k)


def _approximate_grouped(weights: np.ndarray, k: int, candidate_pairs) -> np.ndarray:
    """:func:`grouped_nearest_neighbours` with approximate candidate groups (exact distances rank them).

    A group whose candidates hold fewer than k + 1 agents (the graph returned
    too few) falls back to the exact search for the whole population.
    """
    distinct, group = np.unique(weights, axis=0, return_inverse=True)
    group = group.reshape(-1)
    pair_g, pair_h = candidate_pairs(distinct, k + 1)
    counts = np.bincount(group, minlength=len(distinct))
    reachable = np.bincount(pair_g, weights=np.minimum(counts[pair_h], k + 1), minlength=len(distinct))
    if np.any(reachable < k + 1):
        return grouped_nearest_neighbours(weights, k)
    distance = _pair_distances(distinct, pair_g, pair_h)
    return _expand_groups(group, len(distinct), pair_g, pair_h, distance, k)


def _expand_groups(group, n_groups: int, pair_g, pair_h, distance, k: int) -> np.ndarray:
    """Each agent's k nearest agents from its group's candidate groups and their exact distances."""
    n_agents = len(group)
    group = group.reshape(-1)
    members = _lowest_members(group, n_groups, k + 1)  # (u, k + 1), -1 pads
    pair_g, pair_h, distance = _first_groups(pair_g, pair_h, distance, members[:, 0], k + 1)
    # Expand each kept candidate group to its lowest-index members: (pairs, k + 1).
    agent = members[pair_h]
    valid = agent >= 0
    rows = np.broadcast_to(pair_g[:, None], agent.shape)[valid]
    dist = np.broadcast_to(distance[:, None], agent.shape)[valid]
    agent = agent[valid]
    order = np.lexsort((agent, dist, rows))  # by group, then distance, then index
    rows, agent = rows[order], agent[order]
    starts = np.searchsorted(rows, np.arange(n_groups))
    # Each group's k + 1 best agents (it has at least k + 1 candidates, itself included).
    best = agent[starts[:, None] + np.arange(k + 1)]  # (u, k + 1)
    mine = best[group]  # (n_agents, k + 1)
    keep = mine != np.arange(n_agents)[:, None]
    keep[:, -1] &= ~keep.all(axis=1)  # agent not among them: drop the (k + 1)-th instead
    return mine[keep].reshape(n_agents, k)


#: Above this many components, candidate distances use the support form (:func:`_support_distances`).
SUPPORT_MIN_COMPONENTS = 64
#: Elements per temporary when distances of many pairs are computed in chunks.
_CHUNK_ELEMENTS = 2**22


def _pair_distances(distinct: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Exact distances between rows ``first`` and ``second`` of ``distinct``, in chunks of pairs.

    Few components: the formula of :func:`weight_distances` (same bits).
    Many: the support form, which touches only the entries above each vector's floor.
    """
    n_components = distinct.shape[1]
    if n_components > SUPPORT_MIN_COMPONENTS:
        return _support_distances(distinct, first, second)
    out = np.empty(len(first))
    step = max(1, _CHUNK_ELEMENTS // n_components)
    for start in range(0, len(first), step):
        out[start:start + step] = pair_distances(distinct.T, first[start:start + step], second[start:start + step])
    return out


def _support_distances(distinct: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """||a - b|| from each vector's floor value and the few entries above it (exact, not truncated).

    Every entry of a weight vector that is not above its smallest value equals
    that value bitwise (clipped entries renormalise identically), so with
    floors f_a, f_b and supports S_a, S_b (entries above the floor)

        ||a - b||^2 = sum_{k in S_a u S_b} (a_k - b_k)^2 + (K - |S_a u S_b|) (f_a - f_b)^2,

    costing O(m^2) per pair for supports of at most m entries instead of O(K).
    """
    return _support_distances_from(*sparse_rows(distinct), first, second, distinct.shape[1])


def sparse_rows(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact sparse form of weight vectors: floor value plus the entries above it.

    Parameters
    ----------
    weights : ndarray of float64, shape (n_rows, n_components)

    Returns
    -------
    floor : ndarray of float64, shape (n_rows,)
        Smallest entry of each row (every entry not above it equals it bitwise).
    index : ndarray of int64, shape (n_rows, width)
        Components above the floor, ascending; ``n_components`` pads.
    value : ndarray of float64, shape (n_rows, width)
        Their weights; the floor where padded.
    """
    n_rows, n_components = weights.shape
    floor = weights.min(axis=1)
    rows, cols = np.nonzero(weights > floor[:, None])
    counts = np.bincount(rows, minlength=n_rows)
    width = max(int(counts.max(initial=0)), 1)
    position = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    index = np.full((n_rows, width), n_components, dtype=np.int64)
    value = np.repeat(floor[:, None], width, axis=1)
    index[rows, position] = cols
    value[rows, position] = weights[rows, cols]
    return floor, index, value


def _support_distances_from(floor, index, value, first, second, n_components: int) -> np.ndarray:
    """Support-form distances between rows ``first`` and ``second`` of a sparse form, in chunks."""
    width = index.shape[1]
    out = np.empty(len(first))
    step = max(1, _CHUNK_ELEMENTS // (width * width))
    for start in range(0, len(first), step):
        a, b = first[start:start + step], second[start:start + step]
        out[start:start + step] = _support_chunk(index[a], value[a], floor[a], index[b], value[b], floor[b],
                                                 n_components)
    return out


def _candidate_pairs_sparse(floor, index, value, n_components: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_candidate_pairs` from the sparse form: the Gram product over supports only.

    With s = w - floor on the support, ||a - b||^2 = K (f_a - f_b)^2
    + 2 (f_a - f_b) (sum s_a - sum s_b) + |s_a|^2 + |s_b|^2 - 2 s_a.s_b.
    Computed a block of rows at a time (:func:`_blocked_within_threshold`).
    """
    from scipy import sparse

    valid = index < n_components
    excess = np.where(valid, value - floor[:, None], 0.0)
    matrix = sparse.csr_matrix((excess[valid], index[valid], np.concatenate(([0], np.cumsum(valid.sum(1))))),
                               shape=(len(floor), n_components))
    transposed = matrix.T.tocsc()
    total, squared = excess.sum(axis=1), np.einsum("gw,gw->g", excess, excess)

    def block(rows: slice, columns: np.ndarray | None = None) -> np.ndarray:
        columns = slice(None) if columns is None else columns
        gram = (matrix[rows] @ transposed[:, columns]).toarray()
        delta = floor[rows, None] - floor[None, columns]
        approx = (n_components * delta + 2.0 * (total[rows, None] - total[None, columns])) * delta
        approx += squared[rows, None] + squared[None, columns] - 2.0 * gram
        return approx

    squared_norm = n_components * floor**2 + 2.0 * floor * total + squared
    return _blocked_within_threshold(block, squared_norm, size)


def _support_chunk(index_a, value_a, floor_a, index_b, value_b, floor_b, n_components: int) -> np.ndarray:
    """Support-form distances of a chunk of pairs (see :func:`_support_distances`)."""
    match = (index_a[:, :, None] == index_b[:, None, :]) & (index_a[:, :, None] < n_components)
    in_b = match.any(axis=2)  # entry of a's support also in b's
    # b's value at each of a's support entries: its own entry if shared, else its floor.
    b_at_a = np.where(in_b, np.einsum("pij,pj->pi", match, value_b), floor_b[:, None])
    real_a = index_a < n_components
    only_b = (index_b < n_components) & ~match.any(axis=1)
    union = real_a.sum(axis=1) + only_b.sum(axis=1)
    terms = np.concatenate([
        np.where(real_a, (value_a - b_at_a) ** 2, 0.0),
        np.where(only_b, (floor_a[:, None] - value_b) ** 2, 0.0),
        ((n_components - union) * (floor_a - floor_b) ** 2)[:, None],
    ], axis=1)
    # Summed in sorted order: the sum does not depend on where the supports sit,
    # so pairs that are permutations of each other tie exactly, as they do in exact arithmetic.
    terms.sort(axis=1)
    squared = np.add.reduce(terms, axis=1)
    return np.sqrt(squared)


def _first_groups(pair_g, pair_h, distance, lowest, size: int):
    """Keep, for every group g, its ``size`` first candidate groups in (distance, lowest member) order.

    Enough: if an agent x of group h is among g's ``size`` nearest agents in
    (distance, index) order, fewer than ``size`` groups precede h in
    (distance, lowest member) order, since each such group's lowest member
    would precede x. This bounds the expansion to members when many groups tie
    (e.g. one-hot agents, all sqrt(2) apart).
    """
    order = np.lexsort((lowest[pair_h], distance, pair_g))
    pair_g, pair_h, distance = pair_g[order], pair_h[order], distance[order]
    rank = np.arange(len(pair_g)) - np.searchsorted(pair_g, pair_g)  # position within its group's list
    keep = rank < size
    return pair_g[keep], pair_h[keep], distance[keep]


def _lowest_members(group: np.ndarray, n_groups: int, size: int) -> np.ndarray:
    """The ``size`` lowest agent indices of every group, shape (n_groups, size), -1 padded."""
    order = np.argsort(group, kind="stable")  # agents by group, ascending index within
    counts = np.bincount(group, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    offset = np.arange(size)
    index = starts[:, None] + offset
    valid = offset < counts[:, None]
    return np.where(valid, order[np.minimum(index, len(order) - 1)], -1)


def _candidate_pairs(distinct: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (g, h) of distinct vectors such that h may be among the ``size`` nearest groups of g.

    Prefilters with squared distances in Gram form, |a|^2 + |b|^2 - 2 a.b, whose
    rounding error is below a margin (:func:`_blocked_within_threshold`): every
    group whose exact distance ranks within the ``size`` nearest is kept. The
    row's own |a|^2 is left out (it shifts a whole row, which changes no rank
    or threshold), so one BLAS product of the augmented vectors [a, 1] and
    [-2 b, |b|^2] gives |b|^2 - 2 a.b directly, a block of rows at a time.
    With many groups the product is taken in float32 (half the memory
    traffic, twice the BLAS speed) under the float32 margin.
    """
    squared_norm = np.einsum("gk,gk->g", distinct, distinct)
    single = len(distinct) >= _SAMPLE_MIN_GROUPS
    dtype = np.float32 if single else np.float64
    rows_side = np.concatenate([distinct, np.ones((len(distinct), 1))], axis=1).astype(dtype)
    columns_side = np.ascontiguousarray(np.concatenate([-2.0 * distinct, squared_norm[:, None]], axis=1).T, dtype=dtype)

    def block(rows: slice, columns: np.ndarray | None = None) -> np.ndarray:
        return rows_side[rows] @ (columns_side if columns is None else columns_side[:, columns])

    return _blocked_within_threshold(block, squared_norm, size, _GRAM_MARGIN_SINGLE if single else _GRAM_MARGIN)


#: Relative bound on the rounding error of the Gram form when it is computed in float32: for m <= 65
#: terms (K <= 64 plus the norm) the dot product's error is at most gamma_m = m 2^-24 / (1 - m 2^-24)
#: ~ 3.9e-6 times sum |a_k c_k| <= |a|^2 + 2|b|^2, plus ~2e-7 from rounding the inputs to float32:
#: below 8.2e-6 (|a|^2 + max |b|^2). 1e-4 leaves a factor of 12.
_GRAM_MARGIN_SINGLE = 1e-4
#: Elements (rows x groups) of one block of approximate squared distances: memory O(block), not O(u^2)
#: (128 MB in float32; larger blocks re-read the column side less often: 2^21 was 1.7x slower at u = 30,000).
_BLOCK_ELEMENTS = 2**25
#: From this many groups on, each row's threshold is first bounded from a sample of the columns.
_SAMPLE_MIN_GROUPS = 4096
#: Least columns in that sample (evenly spaced over the groups); it grows as sqrt(32 size u), which balances
#: the partition of the sample (u s values) against sorting the candidates it lets through (~size u^2 / s).
_SAMPLE_COLUMNS = 1024


def _blocked_within_threshold(block, squared_norm: np.ndarray, size: int,
                              relative_margin: float = _GRAM_MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """Pairs whose approximate squared distance is within the ``size``-th smallest of its row plus a margin.

    ``block(rows)`` gives the approximate squared distances of a slice of rows
    to every group (float64 or float32), up to a constant per row (ranks and
    thresholds do not change), with rounding error at most
    ``M = relative_margin * (|a|^2 + max |b|^2)``. If T is a row's ``size``-th
    smallest approximate value, its ``size``-th smallest exact value is at
    most T + M, and every group that close has an approximate value at most
    T + 2 M: the kept pairs (approx <= T + 2 M) contain every group that may
    rank within the ``size`` nearest (a superset is fine: exact distances decide).

    Rows are taken a block at a time, so memory is O(block) whatever the
    number of groups u. With many groups, the row's ``size``-th smallest value
    over a sample of columns bounds T from above (a subset's ``size``-th
    smallest is never below the whole row's), so only the few entries under
    that bound are sorted to find T, instead of partitioning every row.

    Returns
    -------
    first, second : ndarray of int64, shape (n_pairs,)
    """
    n_groups = len(squared_norm)
    largest = squared_norm.max()
    rows_per_block = max(1, _BLOCK_ELEMENTS // n_groups)
    sample = None
    if n_groups >= _SAMPLE_MIN_GROUPS:  # distinct columns: a column counted twice could push the bound below T
        n_sample = min(n_groups, max(_SAMPLE_COLUMNS, int(np.sqrt(32.0 * size * n_groups))))
        sample = np.unique(np.linspace(0, n_groups - 1, n_sample).astype(np.int64))
        sample = sample if len(sample) >= size else None
    firsts, seconds = [], []
    for start in range(0, n_groups, rows_per_block):
        rows = slice(start, min(start + rows_per_block, n_groups))
        approx = block(rows)
        margin = 2.0 * relative_margin * (squared_norm[rows] + largest)
        if n_groups <= size:
            flat = np.arange(approx.size)
        elif sample is None:
            threshold = np.partition(approx, size - 1, axis=1)[:, size - 1]
            flat = np.flatnonzero(approx <= _round_up(threshold + margin, approx.dtype)[:, None])
        else:
            bound = np.partition(block(rows, sample), size - 1, axis=1)[:, size - 1]
            flat = np.flatnonzero(approx <= _round_up(bound + margin, approx.dtype)[:, None])
            row, value = flat // n_groups, approx.reshape(-1)[flat]
            # Every entry at or below the row's T is here (T <= bound), and at least ``size`` entries of
            # each row (those of the sample): the size-th smallest of a row's candidates is its T.
            threshold = _row_kth(row, value, approx.shape[0], size)
            flat = flat[value <= _round_up(threshold + margin, approx.dtype)[row]]
        row, column = np.divmod(flat, n_groups)
        firsts.append(row + start)
        seconds.append(column)
    return np.concatenate(firsts), np.concatenate(seconds)


def _row_kth(row: np.ndarray, value: np.ndarray, n_rows: int, size: int) -> np.ndarray:
    """An upper bound, tight to ~1e-9, on the ``size``-th smallest ``value`` of every row (rows ascending in ``row``).

    One sort of ``row * span + value`` in float64 (faster than a two-key
    lexsort). Adding the row offset may round values closer than ~1e-10
    (span u < 2^21 leaves more than 30 bits below the offset), so the
    selected value may sit that far below the true one: ``_ROW_KTH_SLACK`` is
    added, and a threshold too high only keeps a few more candidates.
    """
    low = float(value.min()) if len(value) else 0.0
    span = float(value.max()) - low + 1.0 if len(value) else 1.0
    keys = np.sort(row * span + (value.astype(np.float64) - low))
    starts = np.searchsorted(keys, np.arange(n_rows) * span)
    return keys[starts + size - 1] - np.arange(n_rows) * span + low + _ROW_KTH_SLACK


#: See :func:`_row_kth`.
_ROW_KTH_SLACK = 1e-8


def _round_up(bound: np.ndarray, dtype) -> np.ndarray:
    """``bound`` (float64) as ``dtype`` rounded up, so comparing in ``dtype`` keeps everything below it."""
    rounded = bound.astype(dtype)
    return np.where(rounded < bound, np.nextafter(rounded, np.inf), rounded).astype(dtype)


def communication_neighbourhoods(weights: np.ndarray, params) -> np.ndarray | None:
    """Who may send each agent an opinion at the next step (for the polarization flag).

    Parameters
    ----------
    weights : ndarray of float64, shape (n_reps, n_agents, n_components)
    params : igmm.dynamics.state.ModelParams

    Returns
    -------
    ndarray of int, shape (n_reps or 1, n_agents, m), or None
        A static network's padded neighbour lists (-1 pads), the k nearest
        agents in weight space, or None for the complete graph (k = n - 1).
    """
    if params.neighbours is not None:
        return params.neighbours[None]
    if params.k >= weights.shape[1] - 1:
        return None
    return k_nearest(weights, params.k, params.neighbour_search)


def nearest_partners(nearest: np.ndarray, params, noise: StepNoise) -> np.ndarray:
    """Partners drawn from a precomputed k-nearest table, with mirroring, shape (n_reps, n_agents).

    ``nearest`` (n_reps, n_agents, k) is the table of the current weights,
    computed once per step by the stepper (it also serves the polarization flag).
    The same draw as :func:`choose_partners` on the dynamic graph.
    """
    uniforms = noise.uniforms
    pick = np.minimum((uniforms[..., U_PARTNER] * params.k).astype(np.int64), params.k - 1)
    chosen = np.take_along_axis(nearest, pick[..., None], axis=-1)[..., 0]
    return np.where(uniforms[..., U_MIRROR] < params.p, np.arange(nearest.shape[1]), chosen)


class NearestPartners:
    """The partner rule of a stepper, with the k-nearest table computed once per state (a mixin).

    The table of the current vectors serves both the polarization flag after
    step t (:meth:`neighbourhoods`) and the partners of step t + 1
    (:meth:`partners`). A stepper using it has ``params`` and ``n_agents``,
    defines :meth:`partner_vectors`, and sets ``_nearest = None`` whenever
    its state changes.
    """

    _nearest: np.ndarray | None = None

    def partner_vectors(self) -> np.ndarray:
        """The vectors agents are ranked by, shape (n_reps, n_agents, m), float64."""
        raise NotImplementedError

    def uses_nearest(self) -> bool:
        """Whether partners come from the dynamic k-nearest graph (not the complete graph or a static network)."""
        return self.params.neighbours is None and self.params.k < self.n_agents - 1

    def nearest(self) -> np.ndarray | None:
        """The k-nearest table of the current vectors (n_reps, n_agents, k), or None when not needed."""
        if self._nearest is None and self.uses_nearest():
            self._nearest = k_nearest(self.partner_vectors(), self.params.k, self.params.neighbour_search)
        return self._nearest

    def partners(self, noise: StepNoise) -> np.ndarray:
        """Each agent's partner this step, shape (n_reps, n_agents)."""
        nearest, params = self.nearest(), self.params
        if nearest is not None:
            return nearest_partners(nearest, params, noise)
        return choose_partners(self.partner_vectors(), params.k, params.p, noise.uniforms[..., U_MIRROR],
                               noise.uniforms[..., U_PARTNER], neighbours=params.neighbours)

    def neighbourhoods(self) -> np.ndarray | None:
        """Who may send each agent an opinion next step (the polarization flag's neighbourhoods)."""
        if self.params.neighbours is not None:
            return self.params.neighbours[None]
        return self.nearest()
