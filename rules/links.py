"""Links as a browser reads them: the one definition of what the rule compiler
and the product feed accept as a link, an http(s) address or a path on the
shop, in the terms of the WHATWG URL standard that browsers follow.

On an http(s) page a browser reads a backslash before the query as a slash, so
``/\\evil.example/x``, ``\\/evil.example`` and ``\\\\evil.example`` start a host
exactly as ``//evil.example`` does and take the visitor off the shop; it also
drops tabs and newlines anywhere and spaces at both ends. Such links are
refused rather than read the browser's way: the link a marketer reads in a
file is where the visitor goes.

The widget keeps the same promise at run time (``widgets/src/links.js``
``safeLink``: a link without a scheme must resolve to the page's own origin).
"""

from __future__ import annotations

import enum
import re
from urllib.parse import urlsplit

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_PATH_START = re.compile(r"[/?#\w.-]")
# What a browser drops or strips from a link (C0 controls, space, DEL), any
# other space (no-break, ideographic: the widget refuses those) and the
# invisible marks a pasted link can carry.
_UNSEEN = re.compile(r"[\x00-\x20\x7f\s\u200b-\u200f\u2060\ufeff]")


class LinkKind(enum.Enum):
    ADDRESS = "address"  # http(s)://host/…: wherever the shop chose to send visitors
    PATH = "path"  # no scheme: resolved against the shop's page, it stays on the shop


class UnsafeLink(ValueError):
    """A link that is neither; the message completes "the link '…' …"."""


def read_link(text: str) -> LinkKind:
    """What ``text`` is to a browser on the shop's page; raises UnsafeLink."""
    if _UNSEEN.search(text):
        raise UnsafeLink("contains spaces or control characters")
    # The query and the fragment keep their backslashes; before them a
    # browser reads each one as a slash.
    head = re.split(r"[?#]", text, maxsplit=1)[0]
    scheme = _SCHEME.match(text)
    if scheme is None:
        if head.replace("\\", "/").startswith("//"):
            raise UnsafeLink("is protocol-relative" + (
                ": a browser reads \\ as /, so it leaves the shop" if "\\" in head[:2] else ""))
        if not _PATH_START.match(text):
            raise UnsafeLink("is not a URL")
    elif scheme.group(1).lower() not in ("http", "https"):
        raise UnsafeLink(f"uses the '{scheme.group(1)}:' scheme")
    if "\\" in head:
        raise UnsafeLink("has a backslash, which a browser reads as /")
    if scheme is None:
        return LinkKind.PATH
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:  # a malformed [IPv6] host
        host = ""
    if not host or not text[scheme.end():].startswith("//"):
        raise UnsafeLink(f"is not a whole address, like {scheme.group(1)}://shop.example.com/x")
    return LinkKind.ADDRESS
