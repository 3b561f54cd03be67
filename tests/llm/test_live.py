"""Live runs against a deterministic chat server on 127.0.0.1: answers, retries, resume, secrets."""

import json

import numpy as np
import pytest

from igmm.llm.embed import hashing_embedder
from igmm.llm.live import (
    REQUIRED_PHRASE,
    LiveRunError,
    kept_answer,
    make_live_config,
    request_seed,
    simulate_live,
    update_knowledge,
)
from igmm.llm.transcripts import load_transcripts
from llm.llm_helpers import ChatServer

N_STEPS = 4


def config_for(server: ChatServer, **overrides):
    values = dict(base_url=server.base_url, model="test-model", p=0.2, k=2, replicate=1, n_steps=N_STEPS,
                  concurrency=1, timeout=5.0, retries=2, backoff=0.01)
    return make_live_config(**(values | overrides))


def tries_of_first_request(server: ChatServer) -> int:
    """How often the server was asked for round 0, agent 0, attempt 0 (replicate 1)."""
    return sum(body["seed"] == request_seed(1, 0, 0, 0) for body in server.requests)


def run(server, out_dir, rags, **overrides):
    return simulate_live(config_for(server, **overrides), out_dir, rags, embed=hashing_embedder())


# --- pieces ------------------------------------------------------------------------------


def test_config_errors_name_the_field_the_value_and_the_rule():
    with pytest.raises(ValueError, match=r"p: 1.5 is not allowed"):
        make_live_config(base_url="http://x/v1", model="m", p=1.5, k=1)
    with pytest.raises(ValueError, match=r"base_url: 'localhost:8080' is not allowed: .*http://"):
        make_live_config(base_url="localhost:8080", model="m", p=0.5, k=1)


def test_k_must_leave_a_partner(chat_server, small_rags, tmp_path):
    with pytest.raises(ValueError, match=r"k: 6 is not allowed.*n_agents - 1 = 5"):
        run(chat_server, tmp_path / "out", small_rags, k=6)


def test_kept_answer_takes_the_first_with_the_phrase_else_the_last_after_all_attempts():
    assert kept_answer(["no", f"{REQUIRED_PHRASE} the rose", "x"], 5) == f"{REQUIRED_PHRASE} the rose"
    assert kept_answer(["no", "nope"], 5) is None
    assert kept_answer(["a", "b", "c"], 3) == "c"


def test_request_seeds_are_deterministic_and_differ_between_attempts():
    assert request_seed(1, 3, 2, 0) == request_seed(1, 3, 2, 0)
    assert len({request_seed(1, 3, 2, attempt) for attempt in range(5)}) == 5
    assert 0 <= request_seed(0, 0, 0, 0) < 2**31


def test_update_mirrors_with_p_one_and_copies_the_nearest_with_k_one():
    answers = ["a", "b", "c", "d"]
    positions = np.array([0.0, 1.0, 10.0, 10.5])
    distances = np.abs(positions[:, None] - positions[None, :])
    assert update_knowledge(answers, distances, 1.0, 1, np.random.default_rng(0)) == answers
    assert update_knowledge(answers, distances, 0.0, 1, np.random.default_rng(0)) == ["b", "a", "d", "c"]


def test_update_draws_the_same_amount_whatever_p():
    distances = np.ones((5, 5)) - np.eye(5)
    generators = [np.random.default_rng(3), np.random.default_rng(3)]
    update_knowledge(list("abcde"), distances, 0.0, 2, generators[0])
    update_knowledge(list("abcde"), distances, 1.0, 2, generators[1])
    assert generators[0].random() == generators[1].random()


# --- whole runs --------------------------------------------------------------------------


def test_live_run_writes_transcripts_that_analyze_reads(chat_server, small_rags, tmp_path):
    result = run(chat_server, tmp_path / "out", small_rags)
    assert result.retrieved_topics.tolist() == [0] * 6  # the flower entry
    assert result.n_requests == len(chat_server.requests) > N_STEPS * 6  # some answers were regenerated
    assert all(REQUIRED_PHRASE in text for text in result.texts.ravel())
    assert all(body["seed"] != chat_server.requests[0]["seed"] for body in chat_server.requests[1:])
    assert chat_server.requests[0]["temperature"] == 0.75 and chat_server.requests[0]["max_tokens"] == 500
    transcripts = load_transcripts(tmp_path / "out")
    assert not transcripts.problems
    (transcript,) = transcripts.runs
    assert (transcript.key.p, transcript.key.k, transcript.key.replicate) == (0.2, 2, 1)
    assert transcript.ids.shape == (N_STEPS + 1, 6)
    assert transcript.ids[0].tolist() == list(range(6))  # t = 0: the copied knowledge bases
    assert transcript.texts.tolist() == result.texts.tolist()


def test_concurrency_limit_is_respected(small_rags, tmp_path):
    with ChatServer(delay=0.05) as server:
        run(server, tmp_path / "out", small_rags, concurrency=2, n_steps=1)
    assert server.max_in_flight == 2


def test_transient_failures_are_retried(small_rags, tmp_path):
    with ChatServer(transient_failures=2) as server:
        result = run(server, tmp_path / "out", small_rags, retries=2, n_steps=1)
    assert len(server.requests) == result.n_requests + 2


def test_retries_run_out_with_a_clear_error(small_rags, tmp_path):
    with ChatServer(transient_failures=100) as server, pytest.raises(LiveRunError, match="no answer after 2 tries"):
        run(server, tmp_path / "out", small_rags, retries=1)
    assert tries_of_first_request(server) == 2


def test_a_timeout_is_retried_then_reported(small_rags, tmp_path):
    with ChatServer(delay=0.4) as server, pytest.raises(LiveRunError, match="Timeout"):
        run(server, tmp_path / "out", small_rags, timeout=0.05, retries=1)
    assert tries_of_first_request(server) == 2


def test_a_refusal_is_not_retried(small_rags, tmp_path):
    with ChatServer(fail_after=0) as server, pytest.raises(LiveRunError, match="HTTP 400"):
        run(server, tmp_path / "out", small_rags, retries=3)
    assert len(server.requests) == 1


def test_api_key_is_sent_but_never_written(monkeypatch, small_rags, tmp_path):
    secret = "sk-test-do-not-store-123"
    monkeypatch.setenv("IGMM_API_KEY", secret)
    with ChatServer() as server:
        run(server, tmp_path / "out", small_rags, n_steps=1)
    assert set(server.authorization) == {f"Bearer {secret}"}
    for path in (tmp_path / "out").rglob("*"):
        assert secret.encode() not in path.read_bytes(), path


def test_interrupted_run_resumes_without_asking_again(small_rags, tmp_path):
    with ChatServer() as server:
        whole = run(server, tmp_path / "whole", small_rags)
    n_whole = len(server.requests)

    with ChatServer(fail_after=17) as first, pytest.raises(LiveRunError):
        run(first, tmp_path / "resumed", small_rags)
    log = tmp_path / "resumed" / "answers_2_2_1.jsonl"
    assert len(log.read_text().splitlines()) == first.n_ok == 17
    with log.open("a") as handle:
        handle.write('{"step": 3, "agent": 0, "att')  # a write cut off by the interruption

    with ChatServer() as second:
        resumed = run(second, tmp_path / "resumed", small_rags)
    assert first.n_ok + len(second.requests) == n_whole
    assert resumed.n_reused == 17 and resumed.n_requests == len(second.requests)
    asked_before = {body["seed"] for body in first.answered}
    assert asked_before.isdisjoint(body["seed"] for body in second.requests)
    assert resumed.texts.tolist() == whole.texts.tolist()
    for name in ("output2_2_1.csv", "output2_2_1_2nd.csv"):
        assert (tmp_path / "resumed" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
    state = json.loads((tmp_path / "resumed" / "run_2_2_1.json").read_text())
    assert state["status"] == "complete" and state["n_log_lines_ignored"] == 1


def test_concurrent_resume_never_asks_for_a_logged_answer(small_rags, tmp_path):
    with ChatServer(fail_after=20) as first, pytest.raises(LiveRunError):
        run(first, tmp_path / "out", small_rags, concurrency=3)
    logged = [json.loads(line) for line in (tmp_path / "out" / "answers_2_2_1.jsonl").read_text().splitlines()]
    logged_seeds = {request_seed(1, r["step"], r["agent"], r["attempt"]) for r in logged}
    with ChatServer() as second:
        run(second, tmp_path / "out", small_rags, concurrency=3)
    assert logged and logged_seeds.isdisjoint(body["seed"] for body in second.requests)


def test_a_finished_run_rerun_asks_nothing(chat_server, small_rags, tmp_path):
    run(chat_server, tmp_path / "out", small_rags)
    n_first = len(chat_server.requests)
    again = run(chat_server, tmp_path / "out", small_rags)
    assert again.n_requests == 0 and len(chat_server.requests) == n_first


def test_resume_with_other_settings_is_refused(chat_server, small_rags, tmp_path):
    run(chat_server, tmp_path / "out", small_rags, n_steps=1)
    with pytest.raises(LiveRunError, match=r"model was 'test-model', now 'other'"):
        run(chat_server, tmp_path / "out", small_rags, n_steps=1, model="other")
