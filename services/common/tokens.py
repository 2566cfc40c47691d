"""How identifiers become search tokens, shared by the parser (which indexes files) and
the gateway (which splits a free-text query the same way); no dependency beyond `re`."""

from __future__ import annotations

import re

_PART = re.compile(r"[A-Z]+(?![^\W\d_A-Z])|[A-Z]?[^\W\d_A-Z]+|[0-9]+")
"""An acronym, a (capitalised) word, or a number; letters other than A-Z count as
lower-case."""


def split_identifier(name: str) -> list[str]:
    """`name`'s tokens: split at `_`, `$`, case changes (`HTTPServer` → http, server)
    and digits, lower-cased; those shorter than 2 characters or all digits dropped."""
    return [part.lower() for part in _PART.findall(name) if len(part) >= 2 and not part.isdigit()]
