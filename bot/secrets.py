"""Values that must never show: the Discord token and a database URL's password.

Both live below everything else, so the configuration, the store and the logs can share them
without depending on each other.
"""

from __future__ import annotations

import re

_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


class Secret:
    """A string that never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class DatabaseUrl(Secret):
    """A PostgreSQL connection URL whose password never shows: repr and str print it as ``***``.

    ``get()`` gives the whole URL to the driver; ``redacted()`` is what people may see.
    A password can sit in the user part (``user:pw@``) or in the query (``?password=pw``).
    """

    __slots__ = ()

    def redacted(self) -> str:
        return redact_url(self.get())

    def __repr__(self) -> str:
        return f"DatabaseUrl({self.redacted()!r})"

    __str__ = redacted


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``; everything else exactly as written."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"  # not a URL at all: it might be nothing but a password
    authority_end = len(rest)
    for mark in "/?#":
        found = rest.find(mark)
        if found >= 0:
            authority_end = min(authority_end, found)
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        userinfo, _, hostport = authority.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        authority = f"{userinfo}@{hostport}"
    tail = _QUERY_PASSWORD.sub(r"\1***", tail)
    return f"{scheme}://{authority}{tail}"
