"""image-gateway: an OpenAI-compatible image gateway."""

import sys

# httpx's package imports its command-line client, and with it click, rich and pygments
# when they are installed (Litestar's CLI installs them): 4.6 MiB and 20 ms of every
# start. The gateway never runs that client. A None entry makes that one import fail, and
# httpx then defines its own fallback ``main()``.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
