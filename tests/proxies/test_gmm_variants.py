"""GMM variants copying the language models' mechanism: built from the paper step's pieces, doing what they say."""

import numpy as np
import pytest

from igmm.api import iterate, replicate_seeds, simulate
from igmm.config import make_config
from igmm.dynamics import make_stepper
from igmm.dynamics.paper import paper_step, to_layout
from igmm.proxies.gmm_variants import answer_table, own_answers


def stepper(config, replicates=3, seed=0):
    config = make_config(config)
    rngs = [np.random.default_rng(s) for s in replicate_seeds(seed, replicates)]
    return make_stepper(config.to_params(seed), rngs), config


def test_answer_graph_on_the_complete_graph_is_the_paper_dynamics():
    paper = simulate({"p": 0.3, "T": 30}, replicates=3, seed=4)
    variant = simulate({"dynamics": "answer-graph", "p": 0.3, "T": 30}, replicates=3, seed=4)
    assert np.array_equal(paper.ids, variant.ids)


def test_answer_graph_ranks_partners_by_the_queries_the_paper_step_draws():
    step, config = stepper({"dynamics": "answer-graph", "p": 0.0, "k": 2, "T": 1})
    layout_before = to_layout(step.state())
    noise = step.noise.next()
    answers = own_answers(step.layout.weights, step.params, noise)
    partners = step.partners(noise)
    table = answer_table(answers, 3, 2)
    chosen = np.take_along_axis(table, np.minimum((noise.uniforms[..., 1] * 2).astype(int), 1)[..., None], -1)[..., 0]
    assert np.array_equal(partners, chosen)
    # The same answers are the queries of the unchanged paper step: with these partners it reproduces the variant.
    paper_step(layout_before, step.params, noise, partners)
    fresh, _ = stepper({"dynamics": "answer-graph", "p": 0.0, "k": 2, "T": 1})
    fresh.step()
    assert np.array_equal(fresh.layout.weights, layout_before.weights)


@pytest.mark.parametrize("dynamics", ["lm-exchange", "one-entry"])
def test_mirroring_agents_store_their_own_answer(dynamics):
    step, _ = stepper({"dynamics": dynamics, "p": 1.0, "k": 5})
    weights = step.layout.weights.copy()
    step.step()
    # Draw the same first noise again and rebuild the answers each agent gave.
    again, _ = stepper({"dynamics": dynamics, "p": 1.0, "k": 5})
    answers = own_answers(weights, again.params, again.noise.next())
    stored = step.layout.rag[:, :, :]
    assert np.any(np.all(np.isclose(stored, answers[None]), axis=1), axis=0).all()


def test_one_entry_replaces_the_whole_database_and_uses_the_entrys_responsibilities():
    step, config = stepper({"dynamics": "one-entry", "p": 0.2, "k": 5})
    step.step()
    rag = step.layout.rag  # (r, n_dims, n_batch)
    assert np.all(rag == rag[:1])
    geometry = config.build_geometry()
    dens = geometry.scaled_densities(rag[0])
    expected = dens / dens.sum(axis=0)
    assert np.allclose(step.layout.weights, np.clip(expected, 1e-12, None) / np.clip(expected, 1e-12, None).sum(0),
                       atol=1e-9)


def test_one_entry_with_its_own_prior_is_stickier_than_with_a_uniform_one():
    uniform = simulate({"dynamics": "one-entry", "p": 0.0, "k": 5, "T": 10}, replicates=8, seed=3)
    own = simulate({"dynamics": "one-entry", "dynamics_options": {"prior": "own"}, "p": 0.0, "k": 5, "T": 10},
                   replicates=8, seed=3)
    changes = lambda ids: np.mean(ids[:, 1:] != ids[:, :-1])  # noqa: E731
    assert changes(own.ids) < changes(uniform.ids)


@pytest.mark.parametrize("dynamics", ["answer-graph", "lm-exchange", "one-entry"])
def test_variants_keep_the_contract_and_stubborn_agents(dynamics):
    result = simulate({"dynamics": dynamics, "k": 5, "p": 0.3, "T": 15,
                       "modifiers": [{"kind": "stubborn", "agents": [3]}]}, replicates=2, seed=1)
    assert result.ids.shape == (2, 16, 30)
    assert np.all(result.ids[:, :, 3] == 3)
    views = list(iterate({"dynamics": dynamics, "k": 5, "T": 2}, replicates=2, seed=1))
    assert views[-1].neighbourhoods().shape == (2, 30, 5)
