"""Shared fixtures: a DashScope emulator per region and a gateway in front of them, over loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.servers import KNOWN_KEYS, LOG_DIR, Server, new_key, start_emulator, start_gateway

#: Polls start fast so async tests do not wait on the production cadence.
TEST_CONFIG = """
default_model: wan2.7-image
default_provider: dashscope
providers:
  dashscope:
    kind: dashscope
    region: cn
    base_url: "${DASHSCOPE_BASE_URL}"
    api_key: "${DASHSCOPE_API_KEY}"
    pacing: {documented_limits: false}
  dashscope-intl:
    kind: dashscope
    region: intl
    base_url: "${DASHSCOPE_INTL_BASE_URL}"
    api_key: "${DASHSCOPE_INTL_API_KEY}"
    pacing: {documented_limits: false}
cache: {flight_grace_seconds: 0.3}
upstream:
  deadline_seconds: %(deadline)s
  backoff_initial: 0.05
  backoff_max: 0.2
  poll_initial: 0.05
  poll_max: 0.2
"""


class Keys:
    cn = new_key()
    intl = new_key()


@pytest.fixture(scope="session")
def keys() -> type[Keys]:
    return Keys


def leaked_keys() -> list[str]:
    """Where a key handed out during this run, or its secret part, appears in a file under LOG_DIR.

    The secret part is what follows the first ``-``, in case a prefix was stripped; since it is
    inside the key, finding it also finds the whole key. Keys are named by their first 4 characters.
    """
    keys = sorted({*KNOWN_KEYS, Keys.cn, Keys.intl})
    leaks = []
    for path in sorted(path for path in LOG_DIR.rglob("*") if path.is_file()):
        text = path.read_text(errors="replace")
        for key in keys:
            if key.split("-", 1)[-1] in text:
                leaks.append(f"{key[:4]}... ({'key' if key in text else 'secret part'}) in {path}")
    return leaks


@pytest.fixture(scope="session", autouse=True)
def no_secret_anywhere() -> Iterator[None]:
    """After the whole run, no configured key appears anywhere the gateways and emulators spoke.

    Autouse and session-scoped, so it is set up before every other fixture and torn down after
    them all: every server has stopped and written its last line by then. A leak fails the run
    as an error at teardown of the last test. Nothing to search (no server ran, no answer was
    recorded, e.g. only tests/unit) means no scan.
    """
    yield
    if not LOG_DIR.is_dir() or not any(path.is_file() for path in LOG_DIR.rglob("*")):
        return
    if leaks := leaked_keys():
        pytest.fail("a configured key leaked into this run's output:\n" + "\n".join(leaks), pytrace=False)


@pytest.fixture(scope="session")
def emulators() -> Iterator[dict[str, Server]]:
    servers = {"cn": start_emulator("cn", Keys.cn), "intl": start_emulator("intl", Keys.intl)}
    yield servers
    for server in servers.values():
        server.stop()


def gateway_env(emulators: dict[str, Server], **overrides: str) -> dict[str, str]:
    env = {
        "DASHSCOPE_BASE_URL": emulators["cn"].url,
        "DASHSCOPE_API_KEY": Keys.cn,
        "DASHSCOPE_INTL_BASE_URL": emulators["intl"].url,
        "DASHSCOPE_INTL_API_KEY": Keys.intl,
    }
    env.update(overrides)
    return env


GatewayFactory = Callable[..., Server]


@pytest.fixture(scope="session")
def gateway_factory(emulators: dict[str, Server], tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayFactory]:
    started: list[Server] = []
    tmp: Path = tmp_path_factory.mktemp("gateways")

    def make(config: str | None = None, *, deadline: float = 30, extra: str = "", **env: str) -> Server:
        text = config if config is not None else TEST_CONFIG % {"deadline": deadline} + extra
        server = start_gateway(gateway_env(emulators, **env), text, tmp=tmp)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def gateway(gateway_factory: GatewayFactory) -> Server:
    return gateway_factory()


@pytest.fixture
def cn(emulators: dict[str, Server]) -> Server:
    """The China-region emulator, its request log cleared: the test sees only what it sent."""
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    return emulators["cn"]


def _record_answer(response: Any) -> None:
    """Keep every answer the SDK sees, for the secret scan at the end of the run."""
    if "text/event-stream" in response.headers.get("content-type", ""):
        return  # streams are read by the SDK's iterator; they are searched by their own tests
    response.read()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / "answers.log").open("a", errors="replace") as out:
        out.write(f"{response.status_code} {dict(response.headers)}\n{response.text}\n")


def openai_client(server: Server, api_key: str = "sk-any-client-key", **options: Any) -> openai.OpenAI:
    http_client = openai.DefaultHttpxClient(event_hooks={"response": [_record_answer]})
    options.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=api_key, timeout=60, http_client=http_client, **options)


@pytest.fixture(scope="session")
def client(gateway: Server) -> openai.OpenAI:
    return openai_client(gateway)
