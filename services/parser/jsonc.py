"""Read JSON with comments and trailing commas, as tsconfig.json and jsconfig.json allow.

`//` line comments and `/* */` block comments (an unterminated one runs to the end)
are removed outside strings, so `"@/*"` and `"http://x"` survive; then a comma that
only whitespace separates from `}` or `]` is dropped. What remains must be JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

_STRING = r'"(?:[^"\\\n]|\\.)*"'
_COMMENTS = re.compile(rf"({_STRING})|//[^\n]*|/\*[\s\S]*?(?:\*/|\Z)")
_TRAILING_COMMAS = re.compile(rf"({_STRING})|,(?=\s*[}}\]])")


def _keep_strings(match: re.Match[str]) -> str:
    return match.group(1) or " "


def loads(text: str) -> Any:
    """The value `text` holds, or None when it is not JSON even without comments and
    trailing commas (a null document also gives None)."""
    cleaned = _TRAILING_COMMAS.sub(_keep_strings, _COMMENTS.sub(_keep_strings, text))
    try:
        return json.loads(cleaned)
    except (ValueError, RecursionError):
        return None
