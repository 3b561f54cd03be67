"""The explorer's web app: a small Starlette (ASGI) application serving the page, its assets and a JSON API.

The page pulls frames (``/api/step``): it asks for the next step only when it
has drawn the last one, so a slow step (n = 1,000) slows the animation but
never floods the browser, and the controls stay live. Every asset is a file
of this package (``static/``); the page loads nothing from elsewhere.

Routes
------
``/``                       the page
``/static/...``             its script, style sheet and plotting module
``/api/schema``             the controls: registered names and their options, defaults
``/api/start?QUERY``        validate a state (:mod:`igmm.explore.state`) and start a run
``/api/step?session=ID&count=N&perspective=1&graph=1``  the next frames
``/api/config.yaml?QUERY``  the state as a configuration file for ``igmm run --config``
``/api/tables/ID/steps.csv``, ``runs.csv``, ``ids.csv``  the run's tables so far
``/api/transcript?source=PATH[&run=LABEL]``  transcript runs, or one run's IDs
"""

from __future__ import annotations

import inspect
import itertools
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent / "static"
#: Runs kept at once (the oldest is dropped): a page holds one, a few tabs a few.
MAX_SESSIONS = 16
#: Most steps one request may take.
MAX_STEPS_PER_REQUEST = 200


class Sessions:
    """The runs being explored, by id (a bounded, thread-safe store)."""

    def __init__(self, limit: int = MAX_SESSIONS):
        self.limit = limit
        self._runs: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._counter = itertools.count(1)

    def add(self, session) -> str:
        with self._lock:
            key = f"s{next(self._counter)}"
            self._runs[key] = session
            while len(self._runs) > self.limit:
                self._runs.popitem(last=False)
            return key

    def get(self, key: str):
        with self._lock:
            return self._runs.get(key)


def _annotation_text(parameter: inspect.Parameter) -> str:
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty:
        return ""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", None) or repr(annotation)
    return str(text).replace("typing.", "").replace("typing_extensions.", "")


def _default_text(parameter: inspect.Parameter) -> str:
    if parameter.default is inspect.Parameter.empty or parameter.default is None:
        return ""
    return str(parameter.default).lower() if isinstance(parameter.default, bool) else str(parameter.default)


def registry_choices(registry, hidden: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every registered name with its user options: name, default (text), annotation (text), required."""
    choices = []
    for name in registry.names():
        if name in hidden:
            continue
        value = registry.get(name)
        choices.append({"name": name, "options": _option_fields(value) if callable(value) else []})
    return choices


def _option_fields(function) -> list[dict[str, Any]]:
    """``function``'s keyword-only options as form fields: name, default (text), annotation (text), required."""
    from igmm.registry import keyword_options

    return [{"name": option, "default": _default_text(parameter), "type": _annotation_text(parameter),
             "required": parameter.default is inspect.Parameter.empty}
            for option, parameter in keyword_options(function).items()]


def _dynamics_options(dynamics) -> list[dict[str, Any]]:
    """The options a dynamics declares (its ``options`` callable's keyword-only parameters), as form fields."""
    declared = getattr(dynamics, "options", None)
    return [] if declared is None else _option_fields(declared)


def schema() -> dict[str, Any]:
    """What the page builds its controls from: the registries, so a researcher's own entries appear too.

    Plugins named by ``$IGMM_PLUGINS`` or the ``igmm.plugins`` entry points are
    loaded first (``igmm explore --plugin MODULE`` loads others at start).
    """
    from igmm.config import SimulationConfig
    from igmm.dynamics.protocol import BACKENDS
    from igmm.explore.state import DEFAULTS
    from igmm.llm.transcripts import default_transcripts_dir
    from igmm.registry import DYNAMICS, INITIAL_OPINIONS, MODIFIERS, NETWORKS, RAG_POLICIES, load_plugins

    load_plugins()
    geometries = [g for g in SimulationConfig.model_fields["geometry"].annotation.__args__ if g != "custom"]
    transcripts = default_transcripts_dir()
    return {
        "defaults": DEFAULTS,
        "geometry": geometries,
        "dynamics": DYNAMICS.names(),
        "dynamics_options": {name: _dynamics_options(DYNAMICS.get(name)) for name in DYNAMICS.names()},
        "rag_policy": RAG_POLICIES.names(),
        "backend": list(BACKENDS),
        # 'graph' needs a Python object, 'given' an array, 'file' a path: not form fields.
        "network": registry_choices(NETWORKS, hidden=("graph",)),
        "initial": registry_choices(INITIAL_OPINIONS, hidden=("given",)),
        "modifiers": registry_choices(MODIFIERS),
        "transcripts": str(transcripts) if transcripts.exists() else "",
    }


def build(query, plugins: tuple[str, ...] = ()) -> tuple[Any, Any, list[str]]:
    """(state, config or None, problems) of a query; ``plugins`` become the configuration's ``plugins``."""
    from igmm.config import ConfigError, make_config
    from igmm.explore.state import parse_query

    state = parse_query(dict(query))
    if state.problems:
        return state, None, state.problems
    values = state.values | ({"plugins": list(plugins)} if plugins else {})
    try:
        return state, make_config(values), []
    except ConfigError as error:
        return state, None, error.lines


def create_app(sessions: Sessions | None = None, plugins: tuple[str, ...] = ()):
    """The Starlette application (``uvicorn`` serves it; tests use Starlette's TestClient).

    Parameters
    ----------
    sessions : Sessions, optional
    plugins : tuple of str
        Plugin modules loaded at start; written into every exported configuration
        (``plugins: [...]``) so ``igmm run --config`` finds the same entries.
    """
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    sessions = sessions or Sessions()

    def page(request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    def api_schema(request):
        return JSONResponse(schema())

    def api_start(request):
        from igmm.explore.session import ExploreSession

        state, config, problems = build(request.query_params, plugins)
        if config is None:
            return JSONResponse({"errors": problems}, status_code=400)
        session = ExploreSession(config, state.seed)
        return JSONResponse({"session": sessions.add(session), "info": session.info()})

    def api_step(request):
        session = sessions.get(request.query_params.get("session", ""))
        if session is None:
            return JSONResponse({"errors": ["session: unknown or expired; press reset"]}, status_code=404)
        try:
            count = min(max(int(request.query_params.get("count", "1")), 1), MAX_STEPS_PER_REQUEST)
        except ValueError:
            return JSONResponse({"errors": ["count: must be a whole number"]}, status_code=400)
        flags = {name: request.query_params.get(name, "1") != "0" for name in ("perspective", "graph")}
        try:
            frames = session.advance(count, **flags)
        except ArithmeticError as error:
            return JSONResponse({"errors": [str(error)]}, status_code=422)
        return JSONResponse({"frames": frames, "done": session.done})

    def api_config(request):
        import yaml

        from igmm.explore.state import export_config

        state, config, problems = build(request.query_params, plugins)
        if config is None:
            return PlainTextResponse("\n".join(problems), status_code=400)
        text = yaml.safe_dump(export_config(config, state.seed), sort_keys=False)
        return Response(text, media_type="application/x-yaml",
                        headers={"Content-Disposition": 'attachment; filename="igmm-explore.yaml"'})

    def api_tables(request):
        session = sessions.get(request.path_params["session"])
        if session is None:
            return PlainTextResponse("session: unknown or expired", status_code=404)
        name = request.path_params["name"]
        if name not in ("steps", "runs", "ids"):
            return PlainTextResponse(f"table: {name!r} is not allowed: steps, runs or ids", status_code=404)
        table = session.ids_table() if name == "ids" else session.tables()[("steps", "runs").index(name)]
        return Response(table.to_csv(index=False), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{request.path_params["name"]}.csv"'})

    def api_transcript(request):
        from igmm.explore.transcripts import transcript_run, transcript_runs

        source = request.query_params.get("source", "")
        label = request.query_params.get("run", "")
        try:
            body = transcript_run(source, label) if label else transcript_runs(source)
        except (OSError, ValueError) as error:
            return JSONResponse({"errors": [str(error)]}, status_code=400)
        return JSONResponse(body)

    routes = [
        Route("/", page),
        Route("/api/schema", api_schema),
        Route("/api/start", api_start),
        Route("/api/step", api_step),
        Route("/api/config.yaml", api_config),
        Route("/api/tables/{session}/{name:str}.csv", api_tables),
        Route("/api/transcript", api_transcript),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = False, announce=print,
          plugins: tuple[str, ...] = ()) -> None:
    """Serve the explorer until interrupted, announcing its address first.

    Parameters
    ----------
    host : str
        Interface to listen on (default: this machine only).
    port : int
        Port; 0 picks a free one.
    open_browser : bool
        Also open the address in the default browser.
    plugins : tuple of str
        Plugin modules to load (their dynamics, networks, ... become choices).

    Raises
    ------
    ValueError
        When a plugin cannot be imported.
    OSError
        When the address cannot be listened on.
    """
    import uvicorn

    from igmm.registry import load_plugins

    load_plugins(tuple(plugins))
    sock, address = listening_socket(host, port)
    announce(f"igmm explore: open {address} (Ctrl-C stops it)")
    if open_browser:
        import webbrowser

        webbrowser.open(address)
    server = uvicorn.Server(uvicorn.Config(create_app(plugins=tuple(plugins)), log_level="warning"))
    server.run(sockets=[sock])


def listening_socket(host: str, port: int):
    """A bound TCP socket and the page's address (port 0: a free port).

    The protocol is given as IPPROTO_TCP: asyncio sets TCP_NODELAY only on
    such sockets, and without it every response waited 40 ms for a delayed
    acknowledgement (Nagle's algorithm), capping the page at about 20 updates/s.
    """
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    shown = f"[{host}]" if ":" in host else host
    return sock, f"http://{shown}:{sock.getsockname()[1]}/"
