"""``igmm explore``: a local web app to watch a run happen, change its parameters and share the view.

The app is a small Starlette (ASGI) application (:mod:`igmm.explore.app`)
served by uvicorn; the page is plain HTML with a small canvas plotting module,
every asset served from this package. The model is stepped through
:func:`igmm.api.iterate`, so what the page shows is replicate 0 of
``igmm run`` with the same configuration and seed. Needs the extra
``pip install 'interacting-gmm[explore]'``.
"""

from __future__ import annotations


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = False, plugins: tuple[str, ...] = ()) -> None:
    """Serve the explorer until interrupted (see :func:`igmm.explore.app.serve`)."""
    from igmm.explore.app import serve as _serve

    _serve(host=host, port=port, open_browser=open_browser, plugins=plugins)


__all__ = ["serve"]
