"""The ``igmm explore`` command."""

from __future__ import annotations

from typing import List, Optional

import typer

from igmm.cli_common import EXIT_BAD_INPUT, fail


def explore_command(
    host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on (default: this machine only)"),
    port: int = typer.Option(8765, "--port", help="port to listen on; 0 picks a free one (default 8765)"),
    open_browser: bool = typer.Option(False, "--open", help="also open the page in the default browser"),
    plugin: Optional[List[str]] = typer.Option(None, "--plugin", help="module of your own dynamics, networks, modifiers... to import first, repeatable"),
) -> None:
    """Start the interactive explorer (a local web app) and print its address.

    Listening on another interface than 127.0.0.1 (--host 0.0.0.0) lets anyone who reaches it run simulations
    and read transcript files on this machine: do it only on a network you trust.
    """
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        fail(["igmm explore needs the 'explore' extra: pip install 'interacting-gmm[explore]'"], EXIT_BAD_INPUT)
    if not 0 <= port <= 65535:
        fail([f"--port: {port} is not allowed: must lie in 0 .. 65535"], EXIT_BAD_INPUT)
    from igmm.explore.app import serve

    try:
        serve(host=host, port=port, open_browser=open_browser, announce=lambda line: typer.echo(line),
              plugins=tuple(plugin or ()))
    except ValueError as error:  # a plugin that cannot be imported
        fail([f"--plugin: {error}"], EXIT_BAD_INPUT)
    except OSError as error:
        fail([f"--host/--port: cannot listen on {host}:{port} ({error.strerror or error})"], EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        pass
