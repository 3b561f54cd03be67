"""The explorer's state as a flat query string: the page's address, the form's fields and the YAML export.

One mapping of short keys to configuration keys, used in both directions, so
that what the address says, what the controls show and what ``igmm run``
receives cannot drift apart. Keys:

``n K p k r T sigma delta geometry dynamics rag_policy backend seed``
    The simulation parameters (the names of ``igmm run``'s YAML where they are short).
``em_iterations``
    EM iterations per refit.
``dynamics.OPTION``
    Options of the chosen dynamics (``dynamics_options``), for a dynamics that declares some.
``network`` and ``network.OPTION``
    A static network of :data:`igmm.registry.NETWORKS` and its options (empty: the dynamic k-nearest graph).
``initial`` and ``initial.OPTION``
    The initial-opinion rule of :data:`igmm.registry.INITIAL_OPINIONS` and its options.
``mods`` and ``mod.NAME.OPTION``
    Comma-separated modifiers of :data:`igmm.registry.MODIFIERS` that are on, and their options.
``t``
    The step shown (the page replays the run up to it).
``transcript``, ``run``
    A transcript source (folder or table) and the run drawn beside the GMM.

Option values are text read as YAML (``4`` is an int, ``[2, 5]`` a list); an
empty value leaves the option at its default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from igmm.cli_common import typed_values

#: Query key -> configuration (YAML) key of the scalar parameters.
SCALAR_KEYS: dict[str, str] = {
    "n": "n_agents",
    "K": "n_components",
    "p": "p",
    "k": "k",
    "r": "r",
    "T": "T",
    "sigma": "sigma",
    "delta": "delta",
    "geometry": "geometry",
    "dynamics": "dynamics",
    "rag_policy": "rag_policy",
    "em_iterations": "em_iterations",
    "backend": "backend",
}
#: The explorer's starting point: the paper's headline run (k = n - 1 when not given), shortened to T = 200 steps.
DEFAULTS: dict[str, str] = {"n": "30", "p": "0.4", "r": "5", "T": "200", "sigma": "0.2", "delta": "1.0",
                            "geometry": "line", "dynamics": "paper", "rag_policy": "farthest", "backend": "numpy",
                            "seed": "0", "initial": "one-hot"}


@dataclass(frozen=True)
class ExploreState:
    """What an address describes.

    Attributes
    ----------
    values : dict
        Configuration values with YAML key names (for :func:`igmm.config.make_config`).
    seed : int
        Root seed: the explorer shows replicate 0 of ``igmm run --seed SEED``.
    t : int
        Step to show.
    transcript : str
        Transcript source ('' for none).
    run : str
        Label of the transcript run drawn beside the GMM ('' for none).
    """

    values: dict[str, Any]
    seed: int = 0
    t: int = 0
    transcript: str = ""
    run: str = ""
    problems: list[str] = field(default_factory=list)


def _number(text: str, key: str, problems: list[str]) -> int:
    try:
        value = int(text)
    except ValueError:
        problems.append(f"{key}: {text!r} is not allowed: must be a whole number >= 0")
        return 0
    if value < 0:
        problems.append(f"{key}: {value} is not allowed: must be >= 0")
    return max(value, 0)


def _options(query: Mapping[str, str], prefix: str) -> dict[str, Any]:
    """``prefix.OPTION=value`` entries as typed options (empty values left out)."""
    raw = {key[len(prefix):]: value for key, value in query.items() if key.startswith(prefix) and value.strip() != ""}
    return typed_values(raw)


def parse_query(query: Mapping[str, str]) -> ExploreState:
    """The state an address's query describes (missing keys take :data:`DEFAULTS`).

    Parameters
    ----------
    query : mapping of str -> str
        The query's key/value pairs (a repeated key: the last one).

    Returns
    -------
    ExploreState
        ``problems`` lists values that are not numbers where numbers are
        needed; every other check is the configuration's own.

    Examples
    --------
    >>> state = parse_query({"p": "0.2", "k": "5", "mods": "stubborn", "mod.stubborn.share": "0.1"})
    >>> state.values["p"], state.values["modifiers"]
    (0.2, [{'kind': 'stubborn', 'share': 0.1}])
    """
    query = {key: str(value) for key, value in query.items()}
    merged = DEFAULTS | {key: value for key, value in query.items() if value.strip() != "" or key in ("network",)}
    problems: list[str] = []
    scalars = typed_values({SCALAR_KEYS[key]: merged[key] for key in SCALAR_KEYS if merged.get(key, "").strip()})
    values: dict[str, Any] = dict(scalars)
    # Text fields stay text even when they look like numbers or booleans.
    for key in ("geometry", "dynamics", "rag_policy", "backend"):
        if key in values:
            values[key] = str(merged[key])
    dynamics_options = _options(query, "dynamics.")
    if dynamics_options:
        values["dynamics_options"] = dynamics_options
    network = merged.get("network", "").strip()
    if network:
        values["network"] = {"kind": network, **_options(query, "network.")}
    values["initial"] = {"kind": merged["initial"].strip() or "one-hot", **_options(query, "initial.")}
    modifiers = [name.strip() for name in merged.get("mods", "").split(",") if name.strip()]
    if modifiers:
        values["modifiers"] = [{"kind": name, **_options(query, f"mod.{name}.")} for name in modifiers]
    return ExploreState(values=values, seed=_number(merged["seed"], "seed", problems),
                        t=_number(merged.get("t", "0"), "t", problems), transcript=merged.get("transcript", ""),
                        run=merged.get("run", ""), problems=problems)


def export_config(config, seed: int) -> dict[str, Any]:
    """What the export button writes: the resolved configuration, its seed and ``replicates: 1``.

    ``igmm run --config FILE`` with it repeats the run the explorer shows
    (replicate 0 of seed ``seed``), bit for bit.
    """
    from igmm.api import run_config_dict

    return run_config_dict(config, seed, 1)
