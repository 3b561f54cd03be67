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
    for line in message.splitlines():
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(code)


@app.command()
def analyze(
    directory: Optional[Path] = typer.Argument(None, help="transcripts folder [$IGMM_TRANSCRIPTS or ../shared/llm-transcripts]"),
    out: Path = typer.Option(Path("results/llm-analysis"), "--out", help="output folder"),
    figures: str = typer.Option("all", "--figures", help="'all', 'none' or one run 'p,k,replicate' such as 0.2,15,0"),
) -> None:
    """Label every answer with its flower and write the GMM's tables and figures.

    Exit code 0 when everything was read, 1 when some file, row or cell was
    skipped (listed in OUT/problems.csv), 2 for a bad argument.
    """
    from igmm.llm.analyze import analyze_transcripts

    try:
        result = analyze_transcripts(directory, out, figures=figures)
    except (FileNotFoundError, ValueError) as error:
        _fail(str(error))
    for problem in result.problems[:MAX_PROBLEMS_SHOWN]:
        typer.echo(f"skipped: {problem}", err=True)
    if len(result.problems) > MAX_PROBLEMS_SHOWN:
        typer.echo(f"... and {len(result.problems) - MAX_PROBLEMS_SHOWN} more in {out / 'problems.csv'}", err=True)
    typer.echo(f"{result.n_runs} run(s) analysed, {result.n_unlabeled} answer(s) naming no flower, "
               f"{len(result.problems)} problem(s). Wrote {len(result.written)} files to {out}/")
    raise typer.Exit(0 if result.complete else EXIT_SKIPPED)


@app.command()
def perspective(
    directory: Optional[Path] = typer.Argument(None, help="transcripts folder [$IGMM_TRANSCRIPTS or ../shared/llm-transcripts]"),
    run: str = typer.Option(..., "--run", help="the run as 'p,k,replicate', e.g. 0.5,25,0"),
    steps: Optional[str] = typer.Option(None, "--steps", help="steps t to draw, e.g. 1,10,40,80 [1, T/8, T/4, T/2, T]"),
    out: Path = typer.Option(Path("results/llm-perspective"), "--out", help="output folder"),
    embedder: str = typer.Option("minilm", "--embedder", help="minilm (needs the 'embed' extra) | hashing"),
) -> None:
    """Embed the answers of one run and draw its perspective space (CMDS) at several steps."""
    from igmm.llm.analyze import select_figure_runs
    from igmm.llm.embed import make_embedder, write_perspective
    from igmm.llm.transcripts import load_transcripts

    try:
        if run.count(",") != 2:
            _fail(f"run: {run!r} is not allowed: give one run as 'p,k,replicate', e.g. 0.5,25,0")
        step_list = [int(step) for step in steps.split(",")] if steps else None
        chosen = select_figure_runs(load_transcripts(directory).runs, run)
        if not chosen:
            _fail(f"run: {run!r} was not found among the transcripts read")
        written = write_perspective(chosen[0], out, step_list, embed=make_embedder(embedder))
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
    rags: Optional[Path] = typer.Option(None, "--rags", help="initial knowledge bases [RAGs.npz of the transcripts folder]"),
    seed: int = typer.Option(0, "--seed", help="root seed of the update draws"),
    concurrency: int = typer.Option(4, "--concurrency", help="requests in flight at most"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds per request"),
    retries: int = typer.Option(5, "--retries", help="extra tries of a failed request (backoff doubles)"),
    backoff: float = typer.Option(1.0, "--backoff", help="seconds before the first retry"),
    embedder: str = typer.Option("minilm", "--embedder", help="minilm (needs the 'embed' extra) | hashing"),
) -> None:
    """Run the language-model system against a chat-completions server; the API key comes from $IGMM_API_KEY or $OPENAI_API_KEY."""
    from igmm.llm.embed import make_embedder
    from igmm.llm.live import LiveRunError, make_live_config, simulate_live
    from igmm.llm.transcripts import RAGS_FILE, default_transcripts_dir

    try:
        config = make_live_config(base_url=base_url, model=model, p=p, k=k, replicate=replicate, n_steps=steps,
                                  seed=seed, concurrency=concurrency, timeout=timeout, retries=retries, backoff=backoff)
        rags_path = rags or default_transcripts_dir() / RAGS_FILE
        if not rags_path.is_file():
            _fail(f"rags: {rags_path} does not exist; pass --rags PATH to a RAGs.npz")
        result = simulate_live(config, out, rags_path, embed=make_embedder(embedder),
                               on_step=lambda done: typer.echo(f"round {done}/{steps} done", err=True))
    except (ValueError, ImportError, OSError) as error:
        _fail(str(error))
    except LiveRunError as error:
        _fail(f"{error}\nanswers so far are kept in {out}/; run the same command again to resume", EXIT_SKIPPED)
    typer.echo(f"{steps} rounds: {result.n_requests} request(s) answered, {result.n_reused} answer(s) reused from "
               f"the log, {result.n_missing_phrase} kept answer(s) without the phrase. Analyse with: "
               f"igmm llm analyze {out} --out {out}/analysis")
