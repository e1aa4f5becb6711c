"""Runs last in the end-to-end suite: no configured key appears anywhere the gateway speaks.

Searches everything the gateways and emulators of this run printed and logged,
every answer the test clients received, the metrics and the admin output, for
every key handed out during the run (and for the secret part of each, in case a
prefix was stripped).
"""

from __future__ import annotations

import httpx

from tests.conftest import GatewayFactory, Keys, openai_client
from tests.servers import KNOWN_KEYS, LOG_DIR, new_key


def test_no_key_anywhere(gateway_factory: GatewayFactory) -> None:
    admin, client_key = new_key("adm-"), new_key("gw-")
    gateway = gateway_factory(GATEWAY_ADMIN_KEY=admin, GATEWAY_API_KEYS=client_key)
    client = openai_client(gateway, api_key=client_key)
    client.images.generate(model="qwen-image-max", prompt="p")
    for bad in ("banana", "0x0"):
        httpx.post(
            gateway.url + "/v1/images/generations",
            json={"prompt": "p", "size": bad},
            headers={"authorization": f"Bearer {client_key}"},
        )
    httpx.post(gateway.url + "/v1/images/generations", json={"prompt": "p"}, headers={"authorization": "Bearer x"})
    exported = [
        httpx.get(gateway.url + "/metrics").text,
        httpx.get(gateway.url + "/admin/keys", headers={"authorization": f"Bearer {admin}"}).text,
        httpx.get(gateway.url + "/readyz").text,
    ]
    gateway.stop()
    everything = "\n".join(exported)
    files = [path for path in LOG_DIR.rglob("*") if path.is_file()]
    assert len(files) > 10, files  # the whole run's output is here
    everything += "\n".join(path.read_text(errors="replace") for path in files)
    keys = {*KNOWN_KEYS, Keys.cn, Keys.intl}
    assert len(keys) > 5
    for key in keys:
        secret_part = key.split("-", 1)[-1]
        assert key not in everything
        assert secret_part not in everything, f"a key's secret part leaked ({key[:4]}...)"
