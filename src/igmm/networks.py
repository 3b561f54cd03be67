"""Static communication networks (MODEL.md section 6), built with networkx, as padded neighbour arrays.

With a static network an agent that does not mirror draws its partner
uniformly from its network neighbours instead of from its k nearest agents
in weight space (p and everything else unchanged). The core receives the
network as ``ModelParams.neighbours``: an int64 array of shape
``(n_agents, max_degree)``, each row the agent's neighbours in increasing
order followed by -1 pads. An agent without neighbours can only mirror.

Random graphs take an explicit integer seed; the simulation shell derives it
from the run's root seed (:func:`network_seed`) and stores it in the config.
"""

from __future__ import annotations

import os
from typing import Callable, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

NetworkKind = Literal["ring", "erdos-renyi", "watts-strogatz", "sbm", "edge-list"]


class NetworkConfig(BaseModel):
    """A static network. Which fields a kind needs is checked by the validator.

    YAML example: ``network: {kind: watts-strogatz, degree: 4, rewire: 0.1}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: NetworkKind
    degree: int | None = Field(None, ge=2, description="ring, watts-strogatz: each agent's degree (even)")
    edge_prob: float | None = Field(None, ge=0.0, le=1.0, description="erdos-renyi: probability of each edge")
    rewire: float | None = Field(None, ge=0.0, le=1.0, description="watts-strogatz: rewiring probability")
    blocks: list[int] | None = Field(None, description="sbm: block sizes, summing to n_agents")
    p_in: float | None = Field(None, ge=0.0, le=1.0, description="sbm: edge probability inside a block")
    p_out: float | None = Field(None, ge=0.0, le=1.0, description="sbm: edge probability between blocks")
    path: str | None = Field(None, description="edge-list: file of 'i j' lines, agents 0 .. n_agents - 1")
    seed: int | None = Field(None, ge=0, description="graph seed (default: derived from the run's seed)")

    @model_validator(mode="after")
    def _check_kind_fields(self) -> "NetworkConfig":
        missing = [name for name in REQUIRED_FIELDS[self.kind] if getattr(self, name) is None]
        if missing:
            raise ValueError(
                f"network: kind {self.kind!r} needs {', '.join(missing)} "
                f"(required for it: {', '.join(REQUIRED_FIELDS[self.kind])})"
            )
        if self.degree is not None and self.degree % 2:
            raise ValueError(f"network.degree: {self.degree} is not allowed: must be even")
        if self.blocks is not None and any(size < 1 for size in self.blocks):
            raise ValueError(f"network.blocks: {self.blocks} is not allowed: every block needs >= 1 agent")
        return self


#: Fields each kind needs.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "ring": ("degree",),
    "erdos-renyi": ("edge_prob",),
    "watts-strogatz": ("degree", "rewire"),
    "sbm": ("blocks", "p_in", "p_out"),
    "edge-list": ("path",),
}


def network_seed(root_seed: int) -> int:
    """The graph seed derived from a run's root seed (distinct from every replicate's stream)."""
    # The root SeedSequence's own state; replicates use its children (spawn keys), never this.
    return int(np.random.SeedSequence(root_seed).generate_state(1)[0])


def _ring(config: NetworkConfig, n_agents: int, seed: int):
    import networkx as nx

    return nx.watts_strogatz_graph(n_agents, config.degree, 0.0, seed=seed)


def _erdos_renyi(config: NetworkConfig, n_agents: int, seed: int):
    import networkx as nx

    return nx.gnp_random_graph(n_agents, config.edge_prob, seed=seed)


def _watts_strogatz(config: NetworkConfig, n_agents: int, seed: int):
    import networkx as nx

    return nx.watts_strogatz_graph(n_agents, config.degree, config.rewire, seed=seed)


def _sbm(config: NetworkConfig, n_agents: int, seed: int):
    import networkx as nx

    if sum(config.blocks) != n_agents:
        raise ValueError(f"network.blocks: sizes {config.blocks} sum to {sum(config.blocks)}; must sum to n_agents = {n_agents}")
    n_blocks = len(config.blocks)
    probs = np.full((n_blocks, n_blocks), config.p_out)
    np.fill_diagonal(probs, config.p_in)
    return nx.stochastic_block_model(config.blocks, probs.tolist(), seed=seed)


def _edge_list(config: NetworkConfig, n_agents: int, seed: int):
    import networkx as nx

    if not os.path.isfile(config.path):
        raise ValueError(f"network.path: file {config.path!r} does not exist")
    graph = nx.read_edgelist(config.path, nodetype=int, data=False)
    bad = sorted(node for node in graph.nodes if not 0 <= node < n_agents)
    if bad:
        raise ValueError(f"network.path: agent {bad[0]} in {config.path!r} is not allowed: agents are 0 .. {n_agents - 1}")
    graph.add_nodes_from(range(n_agents))
    return graph


#: Kind -> builder of a networkx graph on nodes 0 .. n_agents - 1.
GRAPH_BUILDERS: dict[str, Callable] = {
    "ring": _ring,
    "erdos-renyi": _erdos_renyi,
    "watts-strogatz": _watts_strogatz,
    "sbm": _sbm,
    "edge-list": _edge_list,
}


def build_graph(config: NetworkConfig, n_agents: int, seed: int | None = None):
    """The networkx graph of ``config`` on agents 0 .. n_agents - 1.

    Parameters
    ----------
    config : NetworkConfig
    n_agents : int
    seed : int, optional
        Used when ``config.seed`` is None; one of the two must be given for random kinds.
    """
    graph_seed = config.seed if config.seed is not None else seed
    if graph_seed is None and config.kind in ("erdos-renyi", "watts-strogatz", "sbm"):
        raise ValueError(f"network: kind {config.kind!r} is random and needs a seed")
    if config.degree is not None and config.degree >= n_agents:
        raise ValueError(f"network.degree: {config.degree} is not allowed: must be < n_agents = {n_agents}")
    graph = GRAPH_BUILDERS[config.kind](config, n_agents, graph_seed)
    graph.remove_edges_from(list(_self_loops(graph)))  # talking to oneself is mirroring, not an edge
    return graph


def _self_loops(graph):
    return ((node, node) for node in graph.nodes if graph.has_edge(node, node))


def padded_neighbours(graph, n_agents: int) -> np.ndarray:
    """Neighbour lists of agents 0 .. n_agents - 1, padded with -1.

    Returns
    -------
    ndarray of int64, shape (n_agents, max(1, max_degree))
        Row i: i's neighbours in increasing order, then -1.
    """
    lists = [sorted(graph.neighbors(agent)) for agent in range(n_agents)]
    width = max(1, max(len(row) for row in lists))
    neighbours = np.full((n_agents, width), -1, dtype=np.int64)
    for agent, row in enumerate(lists):
        neighbours[agent, : len(row)] = row
    return neighbours


def build_neighbours(config: NetworkConfig, n_agents: int, seed: int | None = None) -> np.ndarray:
    """``padded_neighbours(build_graph(config, n_agents, seed), n_agents)``: what ``ModelParams.neighbours`` holds.

    Examples
    --------
    >>> build_neighbours(NetworkConfig(kind="ring", degree=2), 4)
    array([[1, 3],
           [0, 2],
           [1, 3],
           [0, 2]])
    """
    return padded_neighbours(build_graph(config, n_agents, seed), n_agents)


def parse_network_option(text: str) -> dict:
    """The ``--network`` flag ``KIND[:key=value,...]`` as a dict for :class:`NetworkConfig`.

    SBM block sizes are joined with ``+``: ``sbm:blocks=15+15,p_in=0.5,p_out=0.02``.

    Examples
    --------
    >>> parse_network_option("watts-strogatz:degree=4,rewire=0.1")
    {'kind': 'watts-strogatz', 'degree': '4', 'rewire': '0.1'}
    """
    kind, _, rest = text.partition(":")
    values: dict = {"kind": kind.strip()}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--network: {item!r} is not allowed: write key=value, e.g. degree=4")
        values[key.strip()] = value.split("+") if key.strip() == "blocks" else value.strip()
    return values
