"""Tracing's switch and its cost while off."""

from __future__ import annotations

import os

import pytest

from gateway.observability import tracing
from gateway.settings import TracingSettings, parse_config


def test_tracing_off_costs_one_shared_no_op() -> None:
    assert tracing.span("x") is tracing.span("y", lambda: {"never": "built"})
    assert tracing.server_span("GET", "/v1/models", []) is tracing.span("z")
    assert tracing.trace_id() is None


@pytest.mark.parametrize(
    "enabled, env, on",
    [
        (False, {}, False),
        (True, {}, True),
        (False, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        (False, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        (False, {"OTEL_TRACES_EXPORTER": "otlp"}, True),
        (True, {"OTEL_TRACES_EXPORTER": "none"}, False),
        (True, {"OTEL_SDK_DISABLED": "true"}, False),
        (False, {"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, False),
    ],
)
def test_when_tracing_is_on(enabled: bool, env: dict[str, str], on: bool) -> None:
    assert tracing.enabled_by(TracingSettings(enabled=enabled), env) is on


def test_the_config_section() -> None:
    base = "providers:\n  dashscope: {kind: dashscope, base_url: 'https://x'}\n"
    config = parse_config(base + "tracing: {enabled: true, sample_ratio: 0.25, service_name: gw}\n", {}, "f")
    assert config.tracing == TracingSettings(enabled=True, sample_ratio=0.25, service_name="gw")
    assert not parse_config(base, dict(os.environ), "f").tracing.enabled
