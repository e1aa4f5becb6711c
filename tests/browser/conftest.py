"""One console gateway (client key team-a and an admin key) for the browser and HTTP tests."""

from __future__ import annotations

import pytest

from tests.browser.console import CONSOLE_CONFIG
from tests.conftest import GatewayFactory
from tests.servers import Server


@pytest.fixture(scope="session")
def console(gateway_factory: GatewayFactory) -> Server:
    return gateway_factory(extra=CONSOLE_CONFIG)
