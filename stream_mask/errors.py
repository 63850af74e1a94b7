"""The one exception type the command turns into a one-line error, and how a URL is shown in one."""

from __future__ import annotations

import urllib.parse


class StreamMaskError(Exception):
    """A problem the user can fix (bad input, missing model, ...); its message is one line."""


def redact_url(url: str) -> str:
    """A URL as shown in messages: any password replaced by ***."""
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return url
