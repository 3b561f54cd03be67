"""`igmm llm ...`: analyse transcripts, draw perspective space, run the system live (thin commands)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    help="The language-model system: analyse transcripts with the GMM's measures, or run it live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Exit code when some input was skipped (the rest was analysed).
EXIT_SKIPPED = 1
#: Exit code for a bad argument or an unusable input folder.
EXIT_USAGE = 2
#: Problems printed before "... and N more" (all are in problems.csv).
MAX_PROBLEMS_SHOWN = 20


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    """Print each line of ``message`` as ``error: ...`` (API keys redacted) and exit with ``code``."""
    from igmm.llm.redaction import redact_env

    for line in redact_env(message).splitlines():
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(code)


SOURCE_HELP = "transcripts folder or target table (.csv/.parquet) [$IGMM_TRANSCRIPTS or ../shared/llm-transcripts]"
FORMAT_HELP = "auto (a folder is transcripts, a .csv/.parquet file a table) | transcripts | table"
LABELS_HELP = "transcripts only: flowers (default) | clustering | a file with one label name per line"
CLUSTERS_HELP = "with --labels clustering: cut the tree into at most this many clusters"
THRESHOLD_HELP = "with --labels clustering: cut the tree at this embedding distance"
SCENARIO_LABELS_HELP = "take the labels from this scenario file (see igmm llm simulate)"


def _report_problems(problems, out: Path) -> None:
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        typer.echo(f"skipped: {problem}", err=True)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        typer.echo(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more in {out / 'problems.csv'}", err=True)


@app.command()
def analyze(
    source: Optional[Path] = typer.Argument(None, help=SOURCE_HELP),
    out: Path = typer.Option(Path("results/llm-analysis"), "--out", help="output folder"),
    figures: str = typer.Option("all", "--figures", help="'all', 'none' or one run 'p,k,replicate' such as 0.2,15,0"),
    source_format: str = typer.Option("auto", "--format", help=FORMAT_HELP),
    labels: Optional[str] = typer.Option(None, "--labels", help=LABELS_HELP),
    clusters: Optional[int] = typer.Option(None, "--clusters", help=CLUSTERS_HELP),
    cluster_threshold: Optional[float] = typer.Option(None, "--cluster-threshold", help=THRESHOLD_HELP),
    scenario: Optional[Path] = typer.Option(None, "--scenario", help=SCENARIO_LABELS_HELP),
    embedder: str = typer.Option("none", "--embedder", help="none (default, fast) | hashing | minilm (needs the "
                                 "'embed' extra): embed the answers for per-step polarization (and clustering)"),
) -> None:
    """Label every answer and write the GMM's tables and figures for a target system.

    Exit code 0 when everything was read, 1 when some file, row or cell was
    skipped (listed in OUT/problems.csv), 2 for a bad argument or a source
    with nothing to read (then nothing is written).
    """
    from igmm.llm.analyze import analyze_target, choose_embedder, choose_labeller

    try:
        embed = choose_embedder(embedder)
        labeller = choose_labeller(labels, clusters, cluster_threshold, embed, scenario)
        result = analyze_target(source, out, figures=figures, format=source_format, labels=labeller, embed=embed,
                                on_run=lambda done: typer.echo(f"polarization: {done} run(s) done", err=True)
                                if done % 10 == 0 else None)
    except (FileNotFoundError, ValueError, ImportError) as error:
        _fail(str(error))
    _report_problems(result.problems, out)
    none = f", {result.n_unlabeled} answer(s) naming no label" if result.n_unlabeled else ""
    typer.echo(f"{result.n_runs} run(s) analysed{none}, {len(result.problems)} problem(s). "
               f"Wrote {len(result.written)} files to {out}/")
    raise typer.Exit(0 if result.complete else EXIT_SKIPPED)


@app.command()
def perspective(
    source: Optional[Path] = typer.Argument(None, help=SOURCE_HELP),
    run: str = typer.Option(..., "--run", help="the run as 'p,k,replicate', e.g. 0.5,25,0"),
    steps: Optional[str] = typer.Option(None, "--steps", help="steps t to draw, e.g. 1,10,40,80 [1, T/8, T/4, T/2, T]"),
    out: Path = typer.Option(Path("results/llm-perspective"), "--out", help="output folder"),
    embedder: str = typer.Option("minilm", "--embedder", help="minilm (needs the 'embed' extra) | hashing"),
    source_format: str = typer.Option("auto", "--format", help=FORMAT_HELP),
    labels: Optional[str] = typer.Option(None, "--labels", help=LABELS_HELP),
    clusters: Optional[int] = typer.Option(None, "--clusters", help=CLUSTERS_HELP),
    cluster_threshold: Optional[float] = typer.Option(None, "--cluster-threshold", help=THRESHOLD_HELP),
    scenario: Optional[Path] = typer.Option(None, "--scenario", help=SCENARIO_LABELS_HELP),
) -> None:
    """Embed the answers of one run and draw its perspective space (CMDS) at several steps."""
    from igmm.llm.analyze import choose_embedder, choose_labeller, select_figure_runs
    from igmm.llm.embed import write_perspective
    from igmm.llm.targets import load_target

    try:
        if run.count(",") != 2:
            _fail(f"run: {run!r} is not allowed: give one run as 'p,k,replicate', e.g. 0.5,25,0")
        if embedder == "none":
            _fail("embedder: 'none' is not allowed here: perspective space needs minilm or hashing")
        try:
            step_list = [int(step) for step in steps.split(",")] if steps else None
        except ValueError:
            _fail(f"steps: {steps!r} is not allowed: give whole numbers separated by commas, e.g. 1,10,40")
        embed = choose_embedder(embedder)
        labeller = choose_labeller(labels, clusters, cluster_threshold, embed, scenario)
        target = load_target(source, format=source_format, labels=labeller)
        chosen = select_figure_runs(target.runs, run)
        if not chosen:
            _fail(f"run: {run!r} was not found among the runs read")
        written = write_perspective(chosen[0], out, step_list, embed=embed, label_names=target.label_names,
                                    unlabeled=target.unlabeled)
    except (FileNotFoundError, ValueError, ImportError) as error:
        _fail(str(error))
    typer.echo(f"Wrote {', '.join(str(path) for path in written)}")


@app.command()
def simulate(
    base_url: str = typer.Option(..., "--base-url", help="OpenAI-compatible API root, e.g. http://127.0.0.1:8080/v1"),
    model: str = typer.Option(..., "--model", help="model name sent with every request"),
    p: float = typer.Option(..., "--p", help="mirroring probability"),
    k: int = typer.Option(..., "--k", help="partners among the k nearest agents"),
    replicate: int = typer.Option(0, "--replicate", help="replicate V (sampling seeds from 11 + V)"),
    steps: int = typer.Option(80, "--steps", help="answer rounds T"),
    out: Path = typer.Option(Path("results/llm-live"), "--out", help="output folder (rerun to resume)"),
    scenario: Optional[Path] = typer.Option(None, "--scenario", help="YAML scenario: topic, query, prompts, "
                                            "phrase, labels, knowledge bases [the packaged flower scenario]"),
    rags: Optional[Path] = typer.Option(None, "--rags", help="initial knowledge bases when the scenario has none "
                                        "[RAGs.npz of the transcripts folder]"),
    seed: int = typer.Option(0, "--seed", help="root seed of the update draws"),
    concurrency: int = typer.Option(4, "--concurrency", help="requests in flight at most"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds per request"),
    retries: int = typer.Option(5, "--retries", help="extra tries of a failed request (backoff doubles)"),
    backoff: float = typer.Option(1.0, "--backoff", help="seconds before the first retry"),
    embedder: str = typer.Option("minilm", "--embedder", help="minilm (needs the 'embed' extra) | hashing"),
) -> None:
    """Run the language-model system against a chat-completions server; the API key comes from $IGMM_API_KEY or $OPENAI_API_KEY.

    Exit code 0 when the run is complete, 1 when the server refused or retries
    ran out (answers so far are kept: rerun to resume), 2 for a bad argument
    or scenario (before any request).
    """
    from igmm.llm.embed import make_embedder
    from igmm.llm.live import LiveRunError, make_live_config, require_httpx, simulate_live
    from igmm.llm.scenario import load_scenario
    from igmm.llm.transcripts import RAGS_FILE, default_transcripts_dir

    try:
        config = make_live_config(base_url=base_url, model=model, p=p, k=k, replicate=replicate, n_steps=steps,
                                  seed=seed, concurrency=concurrency, timeout=timeout, retries=retries, backoff=backoff)
        chosen = load_scenario(scenario)
        knowledge = chosen.knowledge_base_array()
        if knowledge is not None and rags is not None:
            _fail(f"rags: {rags} is not allowed: the scenario already gives the knowledge bases")
        if knowledge is None:
            rags_path = rags or default_transcripts_dir() / RAGS_FILE
            if not rags_path.is_file():
                _fail(f"rags: {rags_path} does not exist; pass --rags PATH to a RAGs.npz")
            knowledge = rags_path
        require_httpx()
        embed = make_embedder(embedder)
        result = simulate_live(config, out, knowledge, embed=embed, scenario=chosen,
                               on_step=lambda done: typer.echo(f"round {done}/{steps} done", err=True))
    except (ValueError, ImportError, OSError) as error:
        _fail(str(error))
    except LiveRunError as error:
        _fail(f"{error}\nanswers so far are kept in {out}/; run the same command again to resume", EXIT_SKIPPED)
    labels = f" --scenario {scenario}" if scenario is not None else ""
    typer.echo(f"{steps} rounds: {result.n_requests} request(s) answered, {result.n_reused} answer(s) reused from "
               f"the log, {result.n_missing_phrase} kept answer(s) without the phrase. Analyse with: "
               f"igmm llm analyze {out} --out {out}/analysis{labels}")
