"""Bit-identity guard for engine optimisations: hashes of ID (and weight) trajectories.

``python benchmarks/regression.py --write`` records the hashes of a fixed set of
seeded runs in ``benchmarks/regression_hashes.json``; without ``--write`` it
recomputes them and reports every case whose trajectory changed. An
optimisation that leaves the arithmetic unchanged must keep every hash.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from igmm.config import make_config
from igmm.dynamics import run
from igmm.api import replicate_seeds

HASH_FILE = Path(__file__).with_name("regression_hashes.json")

#: name -> (config values, replicates, seed)
CASES: dict[str, tuple[dict, int, int]] = {
    "paper-complete": ({"p": 0.4, "T": 60}, 4, 1),
    "paper-k5": ({"p": 0.0, "k": 5, "T": 60}, 4, 2),
    "paper-k1-p02": ({"p": 0.2, "k": 1, "T": 40}, 3, 3),
    "nK-100-30-k10": ({"n_agents": 100, "n_components": 30, "p": 0.1, "k": 10, "T": 30}, 2, 4),
    "circle-k3": ({"geometry": "circle", "n_agents": 12, "p": 0.1, "k": 3, "T": 40}, 3, 5),
    "simplex": ({"geometry": "simplex", "n_agents": 10, "sigma": 1.0, "delta": 4.0, "p": 0.0, "T": 40}, 3, 6),
    "custom-full": ({"geometry": "custom", "n_agents": 6, "means": [[0, 0], [1, 0], [0, 1]],
                     "covariances": [[[0.05, 0.01], [0.01, 0.04]]] * 3, "p": 0.2, "k": 2, "T": 30}, 2, 7),
    "early-draft": ({"dynamics": "early-draft", "n_agents": 15, "p": 0.1, "k": 4, "T": 30}, 2, 8),
    "oldest": ({"rag_policy": "oldest", "n_agents": 15, "k": 4, "p": 0.0, "T": 30}, 2, 9),
    "random": ({"rag_policy": "random", "n_agents": 15, "k": 4, "p": 0.0, "T": 30}, 2, 10),
    "em3": ({"em_iterations": 3, "n_agents": 15, "k": 14, "p": 0.2, "T": 30}, 2, 11),
}


def case_hashes(values: dict, n_reps: int, seed: int) -> dict[str, str]:
    """sha256 of the ID trajectory and of the final weights of one seeded batch."""
    config = make_config(values)
    rngs = [np.random.default_rng(s) for s in replicate_seeds(seed, n_reps)]
    trajectory = run(config.to_params(), rngs, config.n_steps)
    return {
        "ids": hashlib.sha256(np.ascontiguousarray(trajectory.ids, dtype=np.int64).tobytes()).hexdigest()[:16],
        "weights": hashlib.sha256(np.ascontiguousarray(trajectory.final.weights).tobytes()).hexdigest()[:16],
        "polarized": hashlib.sha256(trajectory.polarized.tobytes()).hexdigest()[:16],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="record the current hashes")
    args = parser.parse_args()
    current = {name: case_hashes(*case) for name, case in CASES.items()}
    if args.write:
        HASH_FILE.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(current)} cases to {HASH_FILE}")
        return 0
    recorded = json.loads(HASH_FILE.read_text())
    changed = 0
    for name, hashes in current.items():
        for what, value in hashes.items():
            old = recorded.get(name, {}).get(what)
            status = "same" if old == value else "CHANGED"
            changed += status != "same"
            if status != "same":
                print(f"{name:16s} {what:9s} {status} ({old} -> {value})")
    print("all identical" if not changed else f"{changed} hashes changed")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
