"""Keep the API key out of everything printed or written: messages, logs, state files, exceptions.

The key is sent only in the ``Authorization`` header, but a server may quote
it back (an error body such as ``invalid key 'Bearer sk-…'``) and a model may
even repeat it in an answer. Every text that leaves the live run passes
through :func:`redact` first, which replaces the key in the forms a reply can
carry it: ``Bearer <key>``, the key itself, and its JSON-escaped and
URL-quoted spellings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from urllib.parse import quote

#: Environment variables holding the API key, in order of preference.
API_KEY_ENVS = ("IGMM_API_KEY", "OPENAI_API_KEY")
#: What a secret is replaced with.
REDACTED = "[redacted]"


def api_key() -> str | None:
    """The API key of the first non-empty variable of :data:`API_KEY_ENVS`, or None."""
    for name in API_KEY_ENVS:
        value = os.environ.get(name)
        if value:
            return value
    return None


def secret_forms(secret: str) -> list[str]:
    """Spellings of ``secret`` a reply may carry, longest first (so ``Bearer <key>`` goes whole)."""
    forms = {secret, f"Bearer {secret}", json.dumps(secret)[1:-1], quote(secret, safe="")}
    return sorted((form for form in forms if form), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every form of every secret replaced by :data:`REDACTED`.

    Parameters
    ----------
    text : str
    secrets : iterable of str or None
        Empty and None entries are ignored.

    Examples
    --------
    >>> redact("401: bad key 'Bearer sk-123'; sk-123 again", ["sk-123"])
    "401: bad key '[redacted]'; [redacted] again"
    """
    for secret in secrets:
        if secret:
            for form in secret_forms(secret):
                text = text.replace(form, REDACTED)
    return text


def redact_env(text: str) -> str:
    """:func:`redact` with the keys now in the environment variables of :data:`API_KEY_ENVS`."""
    return redact(text, [os.environ.get(name) for name in API_KEY_ENVS])
