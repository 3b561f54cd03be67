"""Bit-identity guard for engine changes: hashes of ID trajectories and polarization flags, and final weights.

``python benchmarks/regression.py --write`` records, for a fixed set of seeded
runs, the SHA-256 of the ID trajectory and of the polarization flags, and a
fingerprint of the final weights, in ``benchmarks/regression_hashes.json``;
without ``--write`` it recomputes them and reports every case that changed
(exit 1). ``make test`` runs it.

IDs and flags are compared bit for bit: they are integers and booleans that
any change of the arithmetic's results would flip somewhere in these runs.
The weights are compared through a fingerprint (their dot product with a
fixed random vector) to a relative 1e-9: numpy's ``exp`` has CPU-specific
SIMD implementations that differ in the last bit (AVX-512 against AVX2), so
a bit hash of the weights would differ between machines for the same code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from igmm.api import replicate_seeds
from igmm.config import make_config
from igmm.dynamics import run

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


#: Relative tolerance of the weight fingerprint (rounding differences between CPUs are ~1e-15).
WEIGHT_RTOL = 1e-9


def case_hashes(values: dict, n_reps: int, seed: int) -> dict:
    """Hashes of the ID trajectory and polarization flags, and the weight fingerprint, of one seeded batch."""
    config = make_config(values)
    rngs = [np.random.default_rng(s) for s in replicate_seeds(seed, n_reps)]
    trajectory = run(config.to_params(seed), rngs, config.n_steps)
    weights = trajectory.final.weights.ravel()
    projection = np.random.default_rng(20261129).uniform(0.5, 1.5, weights.size)
    return {
        "ids": hashlib.sha256(np.ascontiguousarray(trajectory.ids, dtype=np.int64).tobytes()).hexdigest()[:16],
        "polarized": hashlib.sha256(np.ascontiguousarray(trajectory.polarized).tobytes()).hexdigest()[:16],
        "weights": float(weights @ projection),
    }


def same(what: str, old, new) -> bool:
    if what == "weights":
        return isinstance(old, float) and abs(old - new) <= WEIGHT_RTOL * abs(old)
    return old == new


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
            status = "same" if same(what, old, value) else "CHANGED"
            changed += status != "same"
            if status != "same":
                print(f"{name:16s} {what:9s} {status} ({old} -> {value})")
    print("all identical" if not changed else f"{changed} hashes changed")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
