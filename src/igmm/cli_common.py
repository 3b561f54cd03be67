"""What every ``igmm`` command shares: exit codes, one-line errors, progress bars, flag parsing.

Exit codes, the same for every command: 0 done; 1 done, but part of the work
failed or was skipped (it is listed); 2 bad input, refused before any work
with nothing written; 3 the arithmetic broke down (NaN or infinity in the
state), nothing reported; 4 the output could not be written (no space, no
permission), what was finished is kept.
"""

from __future__ import annotations

import sys

import typer

EXIT_PARTIAL, EXIT_BAD_INPUT, EXIT_NUMERICAL, EXIT_OUTPUT = 1, 2, 3, 4


def fail(lines: list[str] | str, code: int = EXIT_BAD_INPUT) -> None:
    """Print each line to stderr as ``error: ...`` and exit with ``code`` (no traceback)."""
    for line in [lines] if isinstance(lines, str) else lines:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(code)


def progress_bar(total: int, description: str, unit: str = "step"):
    """A tqdm bar on a terminal; a silent one when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, disable=not sys.stderr.isatty(), unit=unit)


#: Keys of an ``igmm run`` configuration file besides the simulation's own.
RUN_KEYS = ("seed", "replicates")


def parse_named(texts: list[str] | None, flag: str, lists: tuple[str, ...] = ()) -> list[dict]:
    """Repeated ``NAME:key=value,...`` flags (--modifier, --initial) as dicts; the config types the values."""
    from igmm.networks import parse_key_values

    return [typed_values(parse_key_values(text, flag, lists)) for text in texts or []]


def typed_values(values: dict) -> dict:
    """Flag values are text: read each as YAML (4 -> int, 0.1 -> float, [1, 2] -> list), keep text otherwise."""
    typed = {}
    for key, value in values.items():
        if key == "kind" or not isinstance(value, str):
            typed[key] = [_yaml_scalar(item) for item in value] if isinstance(value, list) else value
            continue
        typed[key] = _yaml_scalar(value)
    return typed


def _yaml_scalar(text: str):
    import yaml

    try:
        return yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        return text


