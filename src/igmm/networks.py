"""Static communication networks, built with networkx, as padded neighbour arrays.

With a static network an agent that does not mirror draws its partner
uniformly from its network neighbours instead of from its k nearest agents
in weight space (p and everything else unchanged). The core receives the
network as ``ModelParams.neighbours``: an int64 array of shape
``(n_agents, max_degree)``, each row the agent's neighbours in increasing
order followed by -1 pads. An agent without neighbours can only mirror.

Networks are registered in :data:`igmm.registry.NETWORKS`: a builder
``(n_agents, seed, **options) -> networkx.Graph`` (or a symmetric scipy
sparse adjacency matrix, which large networks use) whose keyword-only
parameters are the options a configuration may set, e.g.
``network: {kind: watts-strogatz, degree: 4, rewire: 0.1}``. Random graphs
take an explicit integer seed; the simulation shell derives it from the
run's root seed (:func:`network_seed`) and stores it in the config.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from igmm.registry import NETWORKS

#: Largest edge-list file read (bytes): a network of a million agents with degree 20 fits easily.
MAX_EDGE_LIST_BYTES = 2 * 1024**3

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Degree = Annotated[int, Field(ge=2)]


def network_seed(root_seed: int) -> int:
    """The graph seed derived from a run's root seed (distinct from every replicate's stream)."""
    # The root SeedSequence's own state; replicates use its children (spawn keys), never this.
    return int(np.random.SeedSequence(root_seed).generate_state(1)[0])


def _check_degree(degree: int, n_agents: int) -> None:
    if degree % 2:
        raise ValueError(f"network.degree: {degree} is not allowed: must be even")
    if degree >= n_agents:
        raise ValueError(f"network.degree: {degree} is not allowed: must be < n_agents = {n_agents}")


@NETWORKS.register("ring", random=False)
def ring(n_agents: int, seed: int | None, *, degree: Degree):
    """Ring lattice: each agent linked to its ``degree / 2`` nearest agents on each side."""
    _check_degree(degree, n_agents)
    return small_world_adjacency(n_agents, degree, 0.0, seed)


@NETWORKS.register("erdos-renyi", random=True)
def erdos_renyi(n_agents: int, seed: int | None, *, edge_prob: Probability):
    """Erdos-Renyi G(n, p): every pair linked with probability ``edge_prob``."""
    import networkx as nx

    # fast_gnp_random_graph is O(n + m): the same model as gnp_random_graph, usable for sparse large graphs.
    return nx.fast_gnp_random_graph(n_agents, edge_prob, seed=seed)


@NETWORKS.register("watts-strogatz", random=True)
def watts_strogatz(n_agents: int, seed: int | None, *, degree: Degree, rewire: Probability):
    """Watts-Strogatz small world: a ring lattice of ``degree`` with each edge rewired with probability ``rewire``.

    The same graph as ``networkx.watts_strogatz_graph(n_agents, degree, rewire, seed=seed)``
    (:func:`small_world_adjacency`), built without a networkx graph, so a
    million agents take seconds and a few hundred MB.
    """
    _check_degree(degree, n_agents)
    return small_world_adjacency(n_agents, degree, rewire, seed)


def small_world_adjacency(n_agents: int, degree: int, rewire: float, seed: int | None):
    """networkx's Watts-Strogatz graph, draw for draw, as a sparse adjacency matrix.

    The algorithm of ``networkx.watts_strogatz_graph`` (networkx 3.x) with
    the same random stream (``random.Random(seed)``: one ``random()`` per
    lattice edge, in the order j = 1 .. degree / 2, then node by node; a
    rewired edge (u, u + j) goes to ``choice(nodes)``, drawn again while it
    is u or already a neighbour), so the same seed gives the same graph
    (tested against networkx). The graph itself is kept implicitly: the ring
    lattice (i, i + j mod n), the set of lattice edges removed and the set of
    edges added, instead of a dict of dicts per node (networkx needs about
    3 KB per agent at degree 10).

    Returns
    -------
    scipy.sparse.csr_matrix of int8, shape (n_agents, n_agents)
        Symmetric 0/1 adjacency.
    """
    import random

    import scipy.sparse as sparse

    rng = random.Random(seed)  # what networkx's py_random_state makes of an integer (or None) seed
    n, half = n_agents, degree // 2
    removed: set[int] = set()
    added: set[int] = set()
    node_degree = [2 * half] * n
    nodes = range(n)

    def key(a: int, b: int) -> int:
        return a * n + b if a < b else b * n + a

    def has_edge(a: int, b: int) -> bool:
        gap = (b - a) % n
        on_ring = 0 < min(gap, n - gap) <= half
        edge = key(a, b)
        return (on_ring and edge not in removed) or edge in added

    if rewire > 0:
        draw, choice = rng.random, rng.choice
        for j in range(1, half + 1):
            for u in nodes:
                if draw() < rewire:
                    v = (u + j) % n
                    w = choice(nodes)
                    skipped = False
                    while w == u or has_edge(u, w):
                        w = choice(nodes)
                        if node_degree[u] >= n - 1:
                            skipped = True  # u is linked to everyone: skip this rewiring
                            break
                    if not skipped:
                        removed.add(key(u, v))
                        added.add(key(u, w))
                        node_degree[v] -= 1
                        node_degree[w] += 1
    first = np.repeat(np.arange(n, dtype=np.int64), half)
    second = (first + np.tile(np.arange(1, half + 1), n)) % n
    keys = np.minimum(first, second) * n + np.maximum(first, second)
    if removed:
        keep = ~np.isin(keys, np.fromiter(removed, dtype=np.int64, count=len(removed)))
        keys = keys[keep]
    if added:
        keys = np.concatenate([keys, np.fromiter(added, dtype=np.int64, count=len(added))])
    low, high = np.divmod(keys, n)
    rows, cols = np.concatenate([low, high]), np.concatenate([high, low])
    adjacency = sparse.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    adjacency.sum_duplicates()
    return adjacency


@NETWORKS.register("sbm", random=True)
def sbm(n_agents: int, seed: int | None, *, blocks: list[Annotated[int, Field(ge=1)]], p_in: Probability,
        p_out: Probability):
    """Stochastic block model: blocks of the given sizes (summing to n_agents), edge probabilities inside and between."""
    import networkx as nx

    if sum(blocks) != n_agents:
        raise ValueError(f"network.blocks: sizes {blocks} sum to {sum(blocks)}; must sum to n_agents = {n_agents}")
    n_blocks = len(blocks)
    probs = np.full((n_blocks, n_blocks), p_out)
    np.fill_diagonal(probs, p_in)
    return nx.stochastic_block_model(blocks, probs.tolist(), seed=seed)


@NETWORKS.register("edge-list", random=False)
def edge_list(n_agents: int, seed: int | None, *, path: str):
    """A text file of edges, one ``i j`` pair of agent numbers (0 .. n_agents - 1) per line; ``#`` starts a comment."""
    import networkx as nx

    edges = read_edge_list(path, n_agents)
    graph = nx.Graph()
    graph.add_nodes_from(range(n_agents))
    graph.add_edges_from(edges)
    return graph


@NETWORKS.register("graph", random=False)
def from_graph(n_agents: int, seed: int | None, *, graph: Any):
    """A networkx graph passed from Python (``network={"kind": "graph", "graph": G}``).

    Its nodes must be the agents 0 .. n_agents - 1. ``igmm.api.write_result``
    stores it as an edge list beside the results, so the output folder
    reproduces the run.
    """
    import networkx as nx

    if not isinstance(graph, nx.Graph):
        raise ValueError(f"network.graph: a {type(graph).__name__} is not allowed: give a networkx Graph")
    nodes = set(graph.nodes)
    if nodes != set(range(n_agents)):
        extra = sorted(map(repr, nodes - set(range(n_agents))))[:3]
        raise ValueError(f"network.graph: its nodes must be the agents 0 .. {n_agents - 1}"
                         + (f"; found {', '.join(extra)}" if extra else f"; it has {len(nodes)} of them"))
    return nx.Graph(graph)  # undirected, simple: a copy the caller cannot change under the run


def read_edge_list(path: str, n_agents: int) -> list[tuple[int, int]]:
    """The edges of an edge-list file, validated: integers in range, at least one edge that is not a self-loop.

    Raises
    ------
    ValueError
        Naming the file, the line and what is wrong (never the file's content beyond the bad token).
    """
    if not os.path.isfile(path):
        raise ValueError(f"network.path: file {path!r} does not exist")
    if os.path.getsize(path) > MAX_EDGE_LIST_BYTES:
        raise ValueError(f"network.path: {path!r} is larger than {MAX_EDGE_LIST_BYTES} bytes")
    try:
        text = open(path, encoding="utf-8").read()
    except UnicodeDecodeError:
        raise ValueError(f"network.path: {path!r} is not a UTF-8 text file of 'i j' lines") from None
    edges = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 2:
            raise ValueError(f"network.path: {path!r} line {number}: expected two agent numbers 'i j'")
        pair = []
        for field in fields[:2]:
            if not (field.isdigit() and len(field) < 19):
                shown = field if len(field) <= 20 else field[:20] + "..."
                raise ValueError(f"network.path: {path!r} line {number}: {shown!r} is not allowed: agents are "
                                 f"whole numbers 0 .. {n_agents - 1}")
            agent = int(field)
            if agent >= n_agents:
                raise ValueError(f"network.path: {path!r} line {number}: agent {agent} is not allowed: agents are "
                                 f"0 .. {n_agents - 1}")
            pair.append(agent)
        edges.append((pair[0], pair[1]))
    if not any(i != j for i, j in edges):
        raise ValueError(f"network.path: {path!r} holds no edge between two different agents")
    return edges


def build_graph(kind: str, options: dict[str, Any], n_agents: int, seed: int | None = None):
    """The graph of a network configuration on agents 0 .. n_agents - 1, without self-loops.

    A networkx graph, or a scipy sparse (CSR) adjacency matrix where the builder gives one.

    Parameters
    ----------
    kind : str
        A name of :data:`igmm.registry.NETWORKS`.
    options : dict
        The builder's options (already validated by the configuration).
    n_agents : int
    seed : int, optional
        Required by random kinds.
    """
    entry = NETWORKS.entry(kind)
    if seed is None and entry.meta.get("random", False):
        raise ValueError(f"network: kind {kind!r} is random and needs a seed")
    graph = entry.value(n_agents, seed, **options)
    if _is_sparse(graph):
        graph = graph.tocsr(copy=True)
        graph.setdiag(0)
        graph.eliminate_zeros()
        return graph
    graph.remove_edges_from([(node, node) for node in graph.nodes if graph.has_edge(node, node)])
    return graph


def _is_sparse(graph) -> bool:
    import scipy.sparse as sparse

    return sparse.issparse(graph)


def padded_neighbours(graph, n_agents: int) -> np.ndarray:
    """Neighbour lists of agents 0 .. n_agents - 1, padded with -1.

    Returns
    -------
    ndarray of int64, shape (n_agents, max(1, max_degree))
        Row i: i's neighbours in increasing order, then -1.

    Examples
    --------
    >>> import networkx as nx
    >>> padded_neighbours(nx.cycle_graph(4), 4)
    array([[1, 3],
           [0, 2],
           [1, 3],
           [0, 2]])
    """
    import scipy.sparse as sparse

    import networkx as nx

    if _is_sparse(graph):
        adjacency = sparse.csr_matrix(graph)
    else:
        adjacency = sparse.csr_matrix(nx.to_scipy_sparse_array(graph, nodelist=range(n_agents), format="csr"))
    adjacency.sort_indices()
    degree = np.diff(adjacency.indptr)
    width = max(1, int(degree.max(initial=0)))
    neighbours = np.full((n_agents, width), -1, dtype=np.int64)
    rows = np.repeat(np.arange(n_agents), degree)
    position = np.arange(len(adjacency.indices)) - np.repeat(adjacency.indptr[:-1], degree)
    neighbours[rows, position] = adjacency.indices
    return neighbours


def parse_network_option(text: str) -> dict:
    """The ``--network`` flag ``KIND[:key=value,...]`` as a dict (values still text; the config types them).

    SBM block sizes are joined with ``+``: ``sbm:blocks=15+15,p_in=0.5,p_out=0.02``.

    Raises
    ------
    ValueError
        An empty kind, an item that is not ``key=value``, or a key given twice.

    Examples
    --------
    >>> parse_network_option("watts-strogatz:degree=4,rewire=0.1")
    {'kind': 'watts-strogatz', 'degree': '4', 'rewire': '0.1'}
    """
    return parse_key_values(text, "--network", lists=("blocks",))


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets, so ``agents=[0,7],share=0.1`` gives two items."""
    items, depth, current = [], 0, []
    for char in text:
        depth += char in "[("
        depth -= char in "])"
        if char == "," and depth <= 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return items


def parse_key_values(text: str, flag: str, lists: tuple[str, ...] = ()) -> dict:
    """``NAME[:key=value,...]`` -> ``{"kind": NAME, key: value, ...}`` (the syntax of --network and --extension)."""
    kind, _, rest = text.partition(":")
    if not kind.strip():
        raise ValueError(f"{flag}: {text!r} is not allowed: start with a name, e.g. NAME:key=value")
    values: dict = {"kind": kind.strip()}
    for item in filter(None, (part.strip() for part in _split_top_level(rest))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{flag}: {item!r} is not allowed: write key=value, e.g. degree=4")
        if key in values:
            raise ValueError(f"{flag}: {key!r} is given twice")
        values[key] = value.split("+") if key in lists else value.strip()
    return values


def build_neighbours(kind: str, n_agents: int, seed: int | None = None, **options: Any) -> np.ndarray:
    """``padded_neighbours(build_graph(kind, options, n_agents, seed), n_agents)``: what ``ModelParams.neighbours`` holds.

    Examples
    --------
    >>> build_neighbours("ring", 4, degree=2)
    array([[1, 3],
           [0, 2],
           [1, 3],
           [0, 2]])
    """
    return padded_neighbours(build_graph(kind, options, n_agents, seed), n_agents)
