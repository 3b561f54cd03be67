"""Worked extensions, written with the public extension point exactly as a researcher would write theirs.

- :mod:`igmm.extensions.stubborn`: stubborn agents (zealots) that never update.
- :mod:`igmm.extensions.per_agent_p`: a mirroring probability per agent (a vector, or drawn from a distribution).
- A networkx graph passed from Python is the network kind ``graph`` (:func:`igmm.networks.from_graph`),
  and any edge-list file the kind ``edge-list``.

``docs/extending.md`` builds the stubborn-agents modifier from scratch.
"""

from igmm.extensions import per_agent_p, stubborn  # noqa: F401  (importing registers them)
