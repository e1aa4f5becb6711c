"""How clients spell sizes, for every provider kind: ``W x H`` and the 1K/2K/4K tokens."""

from __future__ import annotations

import re

__all__ = ["DIMENSIONS", "TOKEN_SIDES"]

#: A token's side: 1K is about 1024² pixels, at whatever aspect ratio.
TOKEN_SIDES = {"1K": 1024, "2K": 2048, "4K": 4096}
#: ``1792x1024`` as OpenAI spells it, ``1792*1024`` as DashScope does, or with a multiplication sign.
DIMENSIONS = re.compile(r"^\s*(\d+)\s*[x*\u00d7X]\s*(\d+)\s*$")
