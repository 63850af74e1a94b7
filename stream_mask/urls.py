"""URLs as inputs and outputs name them: which scheme, and how to show one without its password.

Free of PyAV and OpenCV, so that sources and sinks can both use it without importing each other's codecs.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Collection

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")  # RFC 3986


def url_scheme(spec: str) -> str | None:
    """`rtsp://host/x` -> "rtsp" (lower case); None for anything else: a path, `camera:0`, `virtualcam:...`."""
    scheme, sep, _ = spec.partition("://")
    return scheme.lower() if sep and _SCHEME.fullmatch(scheme) else None


def is_url(spec: str, schemes: Collection[str] | None = None) -> bool:
    """True if `spec` is a URL (`scheme://...`), of one of `schemes` (lower case) when given."""
    scheme = url_scheme(spec)
    return scheme is not None and (schemes is None or scheme in schemes)


def redact_url(url: str) -> str:
    """A URL as shown in messages: any password replaced by ***. Anything else is returned as is."""
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return url
