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


# --- the API key never leaks, a missing extra names its install command -------------------------

import sys  # noqa: E402

from igmm.llm.live import chat_messages, require_httpx  # noqa: E402
from igmm.llm.scenario import parse_scenario  # noqa: E402

SECRET = "sk-test-LEAK-0123456789"


def assert_no_secret(*texts, folder=None):
    for text in texts:
        assert SECRET not in text, text
    if folder is not None:
        for path in folder.rglob("*"):
            assert SECRET.encode() not in path.read_bytes(), path


def test_a_refusal_quoting_the_key_is_redacted(monkeypatch, small_rags, tmp_path):
    monkeypatch.setenv("IGMM_API_KEY", SECRET)
    with ChatServer(echo_authorization=401) as server, pytest.raises(LiveRunError) as caught:
        run(server, tmp_path / "out", small_rags)
    message = str(caught.value)
    assert "HTTP 401" in message and "invalid credentials: [redacted]" in message
    assert_no_secret(message, folder=tmp_path / "out")


def test_retries_quoting_the_key_end_in_a_redacted_error(monkeypatch, small_rags, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with ChatServer(echo_authorization=503) as server, pytest.raises(LiveRunError) as caught:
        run(server, tmp_path / "out", small_rags, retries=1)
    assert "no answer after 2 tries" in str(caught.value) and "[redacted]" in str(caught.value)
    assert_no_secret(str(caught.value), folder=tmp_path / "out")


def test_answers_quoting_the_key_are_redacted_in_log_transcripts_and_state(monkeypatch, small_rags, tmp_path):
    monkeypatch.setenv("IGMM_API_KEY", SECRET)
    with ChatServer(key_in_answer=True) as server:
        result = run(server, tmp_path / "out", small_rags, n_steps=2)
    assert all("(sent with [redacted])" in text for text in result.texts.ravel())
    assert_no_secret(folder=tmp_path / "out")


def test_a_missing_httpx_names_the_llm_extra_before_anything_is_written(monkeypatch, small_rags, tmp_path):
    monkeypatch.setitem(sys.modules, "httpx", None)  # import httpx now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'interacting-gmm\[llm\]'"):
        require_httpx()
    with ChatServer() as server, pytest.raises(ImportError, match="'llm' extra"):
        run(server, tmp_path / "out", small_rags)
    assert not server.requests and not (tmp_path / "out").exists()


# --- scenarios -------------------------------------------------------------------------------------


def test_the_default_scenario_sends_the_original_flower_prompt():
    assert chat_messages("Rose - lovely petals.") == [
        {"role": "system", "content": "You answer questions using the context you are given."},
        {"role": "user", "content": "Context: Rose - lovely petals.\n\nDescribe the prettiest flower in a single "
                                    "sentence. Begin your answer with \"The prettiest flower is\"."},
    ]
    assert REQUIRED_PHRASE == "The prettiest flower is"


COLOURS = ("red", "blue", "green", "yellow", "purple", "orange")


def colour_scenario(**overrides):
    data = {
        "topic": "favourite colour",
        "query": "Which colour is the most beautiful?",
        "user_prompt": "Context: {context}\n\n{query} Start with \"{phrase}\".",
        "required_phrase": "My colour is",
        "labels": list(COLOURS),
        "knowledge_bases": [[{"question": "Which colour do you like?", "answer": f"{colour.title()}, always."},
                             {"question": "Which city is best?", "answer": f"City {index}"}]
                            for index, colour in enumerate(COLOURS)],
    }
    return parse_scenario(data | overrides, "colours.yaml")


def test_a_scenario_on_another_topic_runs_and_its_transcripts_read_with_its_labels(tmp_path):
    from igmm.llm.targets import load_target

    scenario = colour_scenario()
    with ChatServer(vocabulary=COLOURS, phrase="My colour is") as server:
        result = simulate_live(config_for(server, n_steps=3), tmp_path / "out", scenario.knowledge_base_array(),
                               embed=hashing_embedder(), scenario=scenario)
    assert result.retrieved_topics.tolist() == [0] * 6  # the colour entry is nearest to the query
    assert all(text.startswith("My colour is") for text in result.texts.ravel())
    first = server.requests[0]["messages"]
    assert [message["role"] for message in first] == ["user"]  # no system prompt in this scenario
    assert first[0]["content"].startswith("Context: Red, always.\n\nWhich colour is the most beautiful?")
    target = load_target(tmp_path / "out", labels=scenario.labeller())
    (run_,) = target.runs
    assert not target.problems and target.label_names == COLOURS + ("(none)",)
    assert run_.ids[0].tolist() == list(range(6))  # t = 0: each agent's own colour
    assert np.array_equal(run_.ids[1:], scenario.labeller().label_texts(result.texts))
    assert (run_.ids != target.unlabeled).all()


def test_a_scenario_without_a_phrase_keeps_every_answer(small_rags, tmp_path):
    scenario = colour_scenario(required_phrase=None, user_prompt="Context: {context}\n\n{query}")
    with ChatServer(vocabulary=COLOURS, phrase="Sure:", missing_phrase_every=2) as server:
        result = simulate_live(config_for(server, n_steps=2), tmp_path / "out", scenario.knowledge_base_array(),
                               embed=hashing_embedder(), scenario=scenario)
    assert result.n_requests == 2 * 6 and result.n_missing_phrase == 0


def test_resuming_with_another_prompt_is_refused(small_rags, tmp_path):
    scenario = colour_scenario()
    with ChatServer(vocabulary=COLOURS, phrase="My colour is") as server:
        simulate_live(config_for(server, n_steps=1), tmp_path / "out", scenario.knowledge_base_array(),
                      embed=hashing_embedder(), scenario=scenario)
        changed = colour_scenario(query="Which colour is the ugliest?")
        with pytest.raises(LiveRunError, match="prompt_sha256 was"):
            simulate_live(config_for(server, n_steps=1), tmp_path / "out", changed.knowledge_base_array(),
                          embed=hashing_embedder(), scenario=changed)


def test_a_base_url_without_a_host_or_with_blanks_is_refused():
    with pytest.raises(ValueError, match="base_url: 'http:// bad host/v1' is not allowed: must be a URL with a host"):
        make_live_config(base_url="http:// bad host/v1", model="m", p=0.5, k=1)
