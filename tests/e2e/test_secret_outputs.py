"""Makes a gateway speak everywhere a key could leak, and records what it said for the secret scan.

The scan itself is not here: ``no_secret_anywhere`` in tests/conftest.py runs once after the
whole run and searches every file under LOG_DIR (every process's output, every answer the SDK
clients received, and the file this test writes) for every key handed out during the run.
"""

from __future__ import annotations

import httpx

from tests.conftest import GatewayFactory, openai_client
from tests.servers import LOG_DIR, new_key


def describe(what: str, response: httpx.Response) -> str:
    return f"== {what}: {response.status_code} {dict(response.headers)}\n{response.text}\n"


def test_admin_metrics_and_error_outputs_are_recorded(gateway_factory: GatewayFactory) -> None:
    admin, client_key = new_key("adm-"), new_key("gw-")
    gateway = gateway_factory(GATEWAY_ADMIN_KEY=admin, GATEWAY_API_KEYS=client_key)
    client = openai_client(gateway, api_key=client_key)
    client.images.generate(model="qwen-image-max", prompt="p")  # the SDK client records its answer itself
    answers = [
        describe(
            f"size {bad}",
            httpx.post(
                gateway.url + "/v1/images/generations",
                json={"prompt": "p", "size": bad},
                headers={"authorization": f"Bearer {client_key}"},
            ),
        )
        for bad in ("banana", "0x0")
    ]
    answers.append(
        describe(
            "unauthenticated",
            httpx.post(
                gateway.url + "/v1/images/generations", json={"prompt": "p"}, headers={"authorization": "Bearer x"}
            ),
        )
    )
    exported = {
        "metrics": httpx.get(gateway.url + "/metrics"),
        "admin keys": httpx.get(gateway.url + "/admin/keys", headers={"authorization": f"Bearer {admin}"}),
        "readyz": httpx.get(gateway.url + "/readyz"),
    }
    # Scanning an error page instead of the real exports would prove nothing.
    assert exported["metrics"].status_code == 200, exported["metrics"].text
    assert exported["admin keys"].status_code == 200, exported["admin keys"].text
    gateway.stop()  # its shutdown lines are in its log files too

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / "secret-outputs.log").open("a", errors="replace") as out:
        out.writelines(answers)
        out.writelines(describe(what, response) for what, response in exported.items())
