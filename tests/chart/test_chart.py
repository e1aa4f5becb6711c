"""Offline tests for the Helm chart (helm/image-gateway) and the Dockerfile.

No cluster, helm binary or Docker engine is needed:

* ``helm-python-sdk`` (``helm_python``, the Helm v4 SDK over ctypes) renders the chart, lints it
  strictly and validates values against ``values.schema.json``;
* ``kubernetes-validate`` checks every rendered manifest against the Kubernetes OpenAPI schemas in
  strict mode (unknown fields are errors). Custom resources (ServiceMonitor) have no bundled schema
  and are checked structurally instead.

Install the pinned test dependencies with ``pip install -r requirements-chart.txt``; the module
is skipped when they are missing. Each values set is rendered once per test module (cached).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

helm = pytest.importorskip("helm_python", reason="chart tests need helm-python-sdk (requirements-chart.txt)")
kv = pytest.importorskip("kubernetes_validate", reason="chart tests need kubernetes-validate (requirements-chart.txt)")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "helm" / "image-gateway"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

RELEASE = "gw"
NAMESPACE = "images"
FULLNAME = "gw-image-gateway"

# The chart's kubeVersion floor and the newest schemas bundled with kubernetes-validate.
KUBE_VERSIONS = ("1.27.0", "1.37.0")
# Kinds without a bundled schema (CRDs); checked structurally in their own tests.
CUSTOM_KINDS = {"ServiceMonitor"}

CLIENT_KEYS = {"secrets": {"gatewayApiKeys": "client-key-1"}}
CORE_KINDS = ["ConfigMap", "Deployment", "Pod", "Secret", "Service", "ServiceAccount"]

# name -> (values, kinds expected in addition to CORE_KINDS). Every optional feature is off by
# default and switched by one value; each set below turns one on ("everything" turns on all).
VALUE_SETS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "defaults": ({}, []),
    "autoscaling": ({"autoscaling": {"enabled": True}}, ["HorizontalPodAutoscaler"]),
    "pdb": ({"pdb": {"enabled": True}}, ["PodDisruptionBudget"]),
    "workers": ({"server": {"workers": 2}}, []),
    "networkPolicy": ({"networkPolicy": {"enabled": True}}, ["NetworkPolicy"]),
    "networkPolicy-restricted": (
        {
            "networkPolicy": {
                "enabled": True,
                "allowExternal": False,
                "allowExternalEgress": False,
                "ingressNSMatchLabels": {"kubernetes.io/metadata.name": "clients"},
                "ingressNSPodMatchLabels": {"app": "client"},
                "extraIngress": [{"ports": [{"port": 8000, "protocol": "TCP"}]}],
                "extraEgress": [{"ports": [{"port": 6379, "protocol": "TCP"}]}],
            }
        },
        ["NetworkPolicy"],
    ),
    "ingress": (
        {
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "200m"},
                "tls": [{"secretName": "gw-tls", "hosts": ["image-gateway.example.com"]}],
            }
        },
        ["Ingress"],
    ),
    "serviceMonitor": ({"metrics": {"serviceMonitor": {"enabled": True}}}, ["ServiceMonitor"]),
    "redis": ({"redis": {"url": "redis://redis-master:6379/0"}}, []),
    "storage-local": (
        {
            "storage": {
                "kind": "local",
                "existingSecret": "gw-storage",
                "publicBaseUrl": "https://images.example.com",
                "local": {"existingClaim": "gw-images"},
            }
        },
        [],
    ),
    "storage-s3": (
        {
            "storage": {
                "kind": "s3",
                "prefix": "gateway/",
                "existingSecret": "gw-storage",
                "s3": {"endpoint": "https://acct.r2.cloudflarestorage.com", "bucket": "images", "region": "auto"},
            }
        },
        [],
    ),
    "webhooks": (
        {"webhooks": {"enabled": True, "allowedHosts": ["*.example.com"], "existingSecret": "hook-secret"}},
        [],
    ),
    "usage-postgres": ({"usage": {"existingSecret": "ledger-db"}}, []),
    "usage-pvc": ({"usage": {"dataVolume": {"existingClaim": "ledger-data"}}}, []),
    "everything": (
        {
            "autoscaling": {"enabled": True, "targetMemoryUtilizationPercentage": 80},
            "pdb": {"enabled": True, "minAvailable": "50%"},
            "networkPolicy": {"enabled": True, "allowExternal": False, "allowExternalEgress": False},
            "ingress": {"enabled": True},
            "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
            "redis": {"url": "redis://redis-master:6379/0"},
            "webhooks": {"enabled": True, "allowedHosts": ["hooks.example.com"], "existingSecret": "hook-secret"},
            "dashscope": {"baseUrl": "https://dashscope.internal.example"},
            "secrets": {
                "gatewayApiKeys": ["client-key-1", "client-key-2"],
                "dashscopeApiKey": "sk-cn",
                "dashscopeIntlApiKey": "sk-intl",
                "gatewayAdminKey": "admin-key",
            },
            "extraEnv": [{"name": "LOG_LEVEL", "value": "debug"}],
            "imagePullSecrets": [{"name": "regcred"}],
        },
        [
            "HorizontalPodAutoscaler",
            "Ingress",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "ServiceMonitor",
        ],
    ),
}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base`` (maps merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def with_keys(values: dict[str, Any]) -> dict[str, Any]:
    """The values plus client keys, which every install needs (or secrets.existingSecret)."""
    return merge(CLIENT_KEYS, values)


@dataclass(frozen=True)
class Rendered:
    files: dict[str, str]
    docs: list[dict[str, Any]]

    @property
    def kinds(self) -> list[str]:
        return sorted(d["kind"] for d in self.docs)

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.all(kind)
        assert len(found) == 1, f"expected one {kind}, got {len(found)}"
        return found[0]

    def maybe(self, kind: str) -> dict[str, Any] | None:
        found = self.all(kind)
        return found[0] if found else None

    @property
    def notes(self) -> str:
        return next(text for path, text in self.files.items() if path.endswith("NOTES.txt"))

    @property
    def deployment(self) -> dict[str, Any]:
        return self.one("Deployment")

    @property
    def pod_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.deployment["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> dict[str, Any]:
        containers = self.pod_spec["containers"]
        assert len(containers) == 1
        container: dict[str, Any] = containers[0]
        return container

    @property
    def env(self) -> dict[str, dict[str, Any]]:
        return {e["name"]: e for e in self.container.get("env", [])}

    @property
    def test_pod(self) -> dict[str, Any]:
        pods = [p for p in self.all("Pod") if p["metadata"].get("annotations", {}).get("helm.sh/hook")]
        assert len(pods) == 1
        return pods[0]


@pytest.fixture(scope="module")
def chart() -> Iterator[Any]:
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def render(chart: Any) -> Any:
    cache: dict[str, Rendered] = {}

    def _render(values: dict[str, Any]) -> Rendered:
        key = json.dumps(values, sort_keys=True)
        if key not in cache:
            files = chart.render(values, name=RELEASE, namespace=NAMESPACE)
            docs = [
                doc
                for path, text in sorted(files.items())
                if path.endswith((".yaml", ".yml"))
                for doc in yaml.safe_load_all(text)
                if doc
            ]
            cache[key] = Rendered(files=files, docs=docs)
        return cache[key]

    return _render


@pytest.fixture(scope="module")
def default(render: Any) -> Rendered:
    rendered: Rendered = render(with_keys({}))
    return rendered


@pytest.fixture(scope="module")
def chart_values(chart: Any) -> dict[str, Any]:
    values: dict[str, Any] = chart.values
    return values


# --------------------------------------------------------------------------- lint and validation


@pytest.mark.parametrize("name", [None, *VALUE_SETS])
def test_lint_strict(name: str | None) -> None:
    # None lints the bare chart, as `helm lint helm/image-gateway` in CI would.
    values = None if name is None else with_keys(VALUE_SETS[name][0])
    for kube_version in KUBE_VERSIONS:
        report = helm.lint(CHART_DIR, values, strict=True, kube_version=f"v{kube_version}")
        assert report["total_charts_linted"] == 1
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert not problems, problems
        assert not report["errors"], report["errors"]


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_manifests_validate_strict(render: Any, name: str) -> None:
    values, extra_kinds = VALUE_SETS[name]
    rendered = render(with_keys(values))
    assert rendered.kinds == sorted(CORE_KINDS + extra_kinds)
    problems: list[str] = []
    for doc in rendered.docs:
        assert doc["metadata"]["name"].startswith(FULLNAME)
        for kube_version in KUBE_VERSIONS:
            if doc["kind"] in CUSTOM_KINDS:
                with pytest.raises(kv.SchemaNotFoundError):
                    kv.validate(doc, kube_version, strict=True)
                continue
            try:
                kv.validate(doc, kube_version, strict=True)
            except kv.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                problems.append(f"{doc['kind']} (Kubernetes {kube_version}) at {path or '.'}: {exc.message}")
    assert not problems, "\n".join(problems)


def test_optional_resources_are_off_by_default(chart_values: dict[str, Any]) -> None:
    assert chart_values["autoscaling"]["enabled"] is False
    assert chart_values["pdb"]["enabled"] is False
    assert chart_values["networkPolicy"]["enabled"] is False
    assert chart_values["ingress"]["enabled"] is False
    assert chart_values["metrics"]["serviceMonitor"]["enabled"] is False
    assert chart_values["redis"]["url"] == ""


# --------------------------------------------------------------------------- values.schema.json


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"autoscaling": {"enabled": "yes"}}, "/autoscaling/enabled"),
        ({"replicaCount": "3"}, "/replicaCount"),
        ({"replicaCount": -1}, "/replicaCount"),
        ({"pdb": {"enabled": "true"}}, "/pdb/enabled"),
        ({"pdb": {"maxUnavailable": "one"}}, "/pdb/maxUnavailable"),
        ({"networkPolicy": {"enabled": 1}}, "/networkPolicy/enabled"),
        ({"ingress": {"enabled": "false"}}, "/ingress/enabled"),
        ({"metrics": {"serviceMonitor": {"enabled": "on"}}}, "/metrics/serviceMonitor/enabled"),
        ({"service": {"port": "8000"}}, "/service/port"),
        ({"server": {"port": 70000}}, "/server/port"),
        ({"server": {"workers": 0}}, "/server/workers"),
        ({"server": {"workers": "2"}}, "/server/workers"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"redis": {"url": 6379}}, "/redis/url"),
        ({"webhooks": {"enabled": "yes"}}, "/webhooks/enabled"),
        ({"webhooks": {"allowedHosts": "hooks.example.com"}}, "/webhooks/allowedHosts"),
        ({"webhooks": {"allowedHosts": ["https://hooks.example.com/x"]}}, "/webhooks/allowedHosts/0"),
        ({"usage": {"enabled": "yes"}}, "/usage/enabled"),
        ({"console": {"enabled": "yes"}}, "/console/enabled"),
        ({"console": {"sessionTtl": 60}}, "sessionTtl"),
        ({"usage": {"existingSecretKey": ""}}, "/usage/existingSecretKey"),
        ({"usage": {"databaseUrl": "postgresql://u:p@db/x"}}, "databaseUrl"),
        ({"preStopSleepSeconds": "10"}, "/preStopSleepSeconds"),
        ({"terminationGracePeriodSeconds": "400"}, "/terminationGracePeriodSeconds"),
        ({"config": {"upstream": {"deadline_seconds": "300"}}}, "/config/upstream/deadline_seconds"),
        ({"config": "default_model: x"}, "/config"),
        ({"replicaCounts": 3}, "replicaCounts"),
    ],
)
def test_schema_rejects_wrong_values(chart: Any, override: dict[str, Any], message: str) -> None:
    values = with_keys(override)
    with pytest.raises(helm.HelmValuesError, match=re.escape(message)):
        chart.validate_schema(values)
    # Rendering (helm template/install) enforces the schema too.
    with pytest.raises(helm.HelmValuesError):
        chart.render(values, name=RELEASE, namespace=NAMESPACE)


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_schema_accepts_value_sets(chart: Any, name: str) -> None:
    chart.validate_schema(with_keys(VALUE_SETS[name][0]))


# --------------------------------------------------------------------------- Deployment defaults


def test_security_defaults(default: Rendered) -> None:
    pod = default.pod_spec
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False

    sc = default.container["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 10001
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}

    # The only writable path is an emptyDir at /tmp.
    mounts = {m["mountPath"]: m for m in default.container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    assert volumes[mounts["/tmp"]["name"]]["emptyDir"]["sizeLimit"] == "256Mi"
    assert mounts["/etc/image-gateway"]["readOnly"] is True

    resources = default.container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["memory"]

    sa = default.one("ServiceAccount")
    assert sa["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == sa["metadata"]["name"] == FULLNAME


def test_image_command_and_port(default: Rendered, chart: Any) -> None:
    container = default.container
    assert container["image"] == f"ghcr.io/image-gateway/image-gateway:{chart.metadata['appVersion']}"
    assert container["command"] == ["image-gateway"]
    assert container["args"] == ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "1"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]

    service = default.one("Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"] == default.deployment["spec"]["selector"]["matchLabels"]


def test_workers(default: Rendered, render: Any) -> None:
    assert "PROMETHEUS_MULTIPROC_DIR" not in default.env  # one process: no multiprocess metrics
    two = render(with_keys({"server": {"workers": 2}}))
    assert two.container["args"][-2:] == ["--workers", "2"]
    # Multiprocess metrics on the writable /tmp emptyDir (the root filesystem is read-only).
    directory = two.env["PROMETHEUS_MULTIPROC_DIR"]["value"]
    mounts = {m["name"]: m["mountPath"] for m in two.container["volumeMounts"]}
    assert directory.startswith(mounts["tmp"] + "/")
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in two.pod_spec["volumes"]


def test_image_digest_and_tag_overrides(render: Any) -> None:
    tagged = render(with_keys({"image": {"tag": "1.2.3"}}))
    assert tagged.container["image"].endswith(":1.2.3")
    digest = "sha256:" + "a" * 64
    pinned = render(with_keys({"image": {"digest": digest}}))
    assert pinned.container["image"] == f"ghcr.io/image-gateway/image-gateway@{digest}"


def test_probe_paths(default: Rendered) -> None:
    container = default.container
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 30


def test_replicas_and_rollout_strategy(default: Rendered) -> None:
    spec = default.deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


# --------------------------------------------------------------------------- graceful shutdown


def _pre_stop_sleep(rendered: Rendered) -> int:
    lifecycle = rendered.container.get("lifecycle")
    if not lifecycle:
        return 0
    command = lifecycle["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    return int(command[1])


def _deadline(rendered: Rendered) -> float:
    config = yaml.safe_load(rendered.one("ConfigMap")["data"]["gateway.yaml"])
    return float(config.get("upstream", {}).get("deadline_seconds", 300))


@pytest.mark.parametrize(
    "override",
    [
        {},
        {"config": {"upstream": {"deadline_seconds": 600}}},
        {"config": {"upstream": {"deadline_seconds": 90.5}}, "preStopSleepSeconds": 0},
        {"terminationGracePeriodSeconds": 900},
    ],
)
def test_termination_grace_exceeds_deadline_plus_pre_stop(render: Any, override: dict[str, Any]) -> None:
    rendered = render(with_keys(override))
    grace = rendered.pod_spec["terminationGracePeriodSeconds"]
    sleep = _pre_stop_sleep(rendered)
    assert grace > _deadline(rendered) + sleep
    if "terminationGracePeriodSeconds" in override:
        assert grace == override["terminationGracePeriodSeconds"]


def test_default_pre_stop_and_grace(default: Rendered) -> None:
    assert _pre_stop_sleep(default) == 10
    assert _deadline(default) == 300
    assert default.pod_spec["terminationGracePeriodSeconds"] == 340


def test_too_short_grace_period_fails(chart: Any) -> None:
    with pytest.raises(helm.HelmRenderError, match="terminationGracePeriodSeconds"):
        chart.render(with_keys({"terminationGracePeriodSeconds": 310}), name=RELEASE, namespace=NAMESPACE)


# --------------------------------------------------------------------------- config and secrets


def test_configmap_holds_config_from_values(default: Rendered, chart_values: dict[str, Any]) -> None:
    configmap = default.one("ConfigMap")
    config = yaml.safe_load(configmap["data"]["gateway.yaml"])
    # The values' config, plus the usage ledger's switch and its URL as an ${ENV} reference, and the console off.
    usage = {"enabled": True, "database_url": "${USAGE_DATABASE_URL}"}
    assert config == {**chart_values["config"], "usage": usage, "console": {"enabled": False}}
    assert config["default_provider"] == "dashscope"
    assert config["providers"]["dashscope"]["api_key"] == "${DASHSCOPE_API_KEY}"

    assert default.env["GATEWAY_CONFIG"]["value"] == "/etc/image-gateway/gateway.yaml"
    config_volume = next(v for v in default.pod_spec["volumes"] if v["name"] == "config")
    assert config_volume["configMap"]["name"] == configmap["metadata"]["name"]


def test_configmap_config_loads_in_the_gateway(default: Rendered, tmp_path: Path) -> None:
    """The chart's default config is accepted by the application's own loader (no drift)."""
    settings = pytest.importorskip("gateway.settings")
    path = tmp_path / "gateway.yaml"
    path.write_text(default.one("ConfigMap")["data"]["gateway.yaml"])
    env = {"DASHSCOPE_API_KEY": "sk-test", "GATEWAY_API_KEYS": "client-key-1"}
    config = settings.load_config(path, env={**env, "GATEWAY_DATA_DIR": "/var/lib/image-gateway"})
    assert config.default_provider == "dashscope"
    assert config.usage.database_url.reveal() == "sqlite:////var/lib/image-gateway/usage.db"
    with_url = settings.load_config(path, env={**env, "USAGE_DATABASE_URL": "postgresql://u:p@db/usage"})
    assert with_url.usage.database_url.reveal() == "postgresql://u:p@db/usage"
    assert config.upstream.deadline_seconds == _deadline(default)


def test_secrets_never_reach_the_configmap(render: Any) -> None:
    rendered = render(with_keys(VALUE_SETS["everything"][0]))
    configmap_text = json.dumps(rendered.one("ConfigMap"))
    for secret in ("client-key-1", "sk-cn", "sk-intl", "admin-key"):
        assert secret not in configmap_text
        assert secret not in json.dumps(rendered.deployment)


def test_checksum_changes_with_config(render: Any, default: Rendered) -> None:
    def checksum(rendered: Rendered) -> str:
        value: str = rendered.deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        return value

    assert re.fullmatch(r"[0-9a-f]{64}", checksum(default))
    changed_model = render(with_keys({"config": {"default_model": "qwen-image"}}))
    changed_deadline = render(with_keys({"config": {"upstream": {"deadline_seconds": 120}}}))
    unrelated = render(with_keys({"replicaCount": 5}))
    assert checksum(changed_model) != checksum(default)
    assert checksum(changed_deadline) != checksum(default)
    assert checksum(unrelated) == checksum(default)


def test_chart_secret(render: Any, default: Rendered) -> None:
    def decoded(rendered: Rendered) -> dict[str, str]:
        data = rendered.one("Secret")["data"]
        return {k: base64.b64decode(v).decode() for k, v in data.items()}

    # Only non-empty keys are written; the pod's references to the optional ones are optional.
    assert decoded(default) == {"GATEWAY_API_KEYS": "client-key-1"}
    everything = render(with_keys(VALUE_SETS["everything"][0]))
    assert decoded(everything) == {
        "DASHSCOPE_API_KEY": "sk-cn",
        "DASHSCOPE_INTL_API_KEY": "sk-intl",
        "GATEWAY_API_KEYS": "client-key-1,client-key-2",
        "GATEWAY_ADMIN_KEY": "admin-key",
    }

    secret_name = default.one("Secret")["metadata"]["name"]
    env = default.env
    for var in ("DASHSCOPE_API_KEY", "DASHSCOPE_INTL_API_KEY", "GATEWAY_API_KEYS", "GATEWAY_ADMIN_KEY"):
        ref = env[var]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret_name
        assert ref["key"] == var
    assert "optional" not in env["GATEWAY_API_KEYS"]["valueFrom"]["secretKeyRef"]

    # Rotating a key rolls the pods.
    annotations = default.deployment["spec"]["template"]["metadata"]["annotations"]
    rotated = render(with_keys({"secrets": {"gatewayApiKeys": "client-key-2"}}))
    rotated_annotations = rotated.deployment["spec"]["template"]["metadata"]["annotations"]
    assert rotated_annotations["checksum/secret"] != annotations["checksum/secret"]


def test_existing_secret(render: Any) -> None:
    rendered = render({"secrets": {"existingSecret": "gateway-keys"}})
    assert rendered.maybe("Secret") is None
    assert "Secret" not in rendered.kinds
    for var in ("DASHSCOPE_API_KEY", "DASHSCOPE_INTL_API_KEY", "GATEWAY_API_KEYS", "GATEWAY_ADMIN_KEY"):
        ref = rendered.env[var]["valueFrom"]["secretKeyRef"]
        assert ref == {
            "name": "gateway-keys",
            "key": var,
            **({"optional": True} if var != "GATEWAY_API_KEYS" else {}),
        }
    assert "checksum/secret" not in rendered.deployment["spec"]["template"]["metadata"]["annotations"]
    assert "gateway-keys" in rendered.notes

    # Values-provided keys are ignored (never rendered) once an existing Secret is named.
    both = render({"secrets": {"existingSecret": "gateway-keys", "gatewayApiKeys": "ignored-key"}})
    assert both.maybe("Secret") is None
    assert "ignored-key" not in json.dumps(both.docs)

    remapped = render(
        {"secrets": {"existingSecret": "vault-keys", "existingSecretKeys": {"gatewayApiKeys": "client-keys"}}}
    )
    ref = remapped.env["GATEWAY_API_KEYS"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "vault-keys", "key": "client-keys"}


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"secrets": {"gatewayApiKeys": ""}},
        {"secrets": {"gatewayApiKeys": []}},
        {"secrets": {"gatewayApiKeys": "  "}},
        {"secrets": {"dashscopeApiKey": "sk-only-provider-key"}},
    ],
)
def test_rendering_requires_client_keys(chart: Any, values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmRenderError) as excinfo:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    message = str(excinfo.value)
    assert "secrets.gatewayApiKeys" in message
    assert "secrets.existingSecret" in message
    assert "non-loopback" in message


def test_redis_url_only_when_set(render: Any, default: Rendered) -> None:
    assert "REDIS_URL" not in default.env
    assert "REDIS_URL" not in render(with_keys({"redis": {"url": ""}})).env
    with_redis = render(with_keys({"redis": {"url": "redis://redis-master:6379/0"}}))
    assert with_redis.env["REDIS_URL"] == {"name": "REDIS_URL", "value": "redis://redis-master:6379/0"}
    from_secret = render(with_keys({"redis": {"existingSecret": "redis-creds"}}))
    assert from_secret.env["REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "redis-creds",
        "key": "REDIS_URL",
    }


def test_webhooks(render: Any, default: Rendered, tmp_path: Path) -> None:
    assert "WEBHOOK_SECRET" not in default.env
    assert "webhooks" not in yaml.safe_load(default.one("ConfigMap")["data"]["gateway.yaml"])
    values = {
        "webhooks": {"enabled": True, "allowedHosts": ["*.example.com"], "existingSecret": "hook-secret"},
        "config": {"webhooks": {"timeout_seconds": 5, "secret": "ignored"}},
    }
    rendered = render(with_keys(values))
    ref = rendered.env["WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "hook-secret", "key": "WEBHOOK_SECRET"}  # not optional: enabled means needed
    settings = pytest.importorskip("gateway.settings")
    path = tmp_path / "gateway.yaml"
    path.write_text(rendered.one("ConfigMap")["data"]["gateway.yaml"])
    secret = "whsec_" + base64.b64encode(b"s" * 32).decode()
    env = {"GATEWAY_API_KEYS": "client-key-1", "WEBHOOK_SECRET": secret}
    config = settings.load_config(path, env=env)
    hooks = config.webhooks
    assert hooks.secret is not None and hooks.secret.reveal() == secret  # from the Secret, never the values
    assert hooks.allowed_hosts == ("*.example.com",) and hooks.timeout_seconds == 5
    remapped = render(with_keys(merge(values, {"webhooks": {"existingSecretKey": "signing"}})))
    assert remapped.env["WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "signing"


def test_webhooks_need_an_existing_secret(chart: Any) -> None:
    with pytest.raises(helm.HelmRenderError, match=re.escape("webhooks.existingSecret")):
        chart.render(with_keys({"webhooks": {"enabled": True}}), name=RELEASE, namespace=NAMESPACE)


def _data_volume(rendered: Rendered) -> dict[str, Any] | None:
    return next((v for v in rendered.pod_spec["volumes"] if v["name"] == "data"), None)


def test_usage_ledger_defaults_to_sqlite_on_an_emptydir(default: Rendered) -> None:
    assert default.env["GATEWAY_DATA_DIR"]["value"] == "/var/lib/image-gateway"
    assert "USAGE_DATABASE_URL" not in default.env
    assert _data_volume(default) == {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}
    mounts = default.pod_spec["containers"][0]["volumeMounts"]
    assert {"name": "data", "mountPath": "/var/lib/image-gateway"} in mounts


def test_usage_ledger_url_from_an_existing_secret(render: Any) -> None:
    rendered = render(with_keys({"usage": {"existingSecret": "ledger-db"}}))
    assert rendered.env["USAGE_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "ledger-db",
        "key": "USAGE_DATABASE_URL",
    }
    assert _data_volume(rendered) is None  # the database is elsewhere
    claim = render(with_keys({"usage": {"dataVolume": {"existingClaim": "ledger-data"}}}))
    assert _data_volume(claim) == {"name": "data", "persistentVolumeClaim": {"claimName": "ledger-data"}}


def test_usage_ledger_off_and_config_overrides(render: Any) -> None:
    off = render(with_keys({"usage": {"enabled": False}}))
    assert yaml.safe_load(off.one("ConfigMap")["data"]["gateway.yaml"])["usage"]["enabled"] is False
    assert "GATEWAY_DATA_DIR" not in off.env and _data_volume(off) is None
    own = render(with_keys({"config": {"usage": {"flush_seconds": 5, "enabled": False}}}))
    usage = yaml.safe_load(own.one("ConfigMap")["data"]["gateway.yaml"])["usage"]
    assert usage == {"flush_seconds": 5, "enabled": False, "database_url": "${USAGE_DATABASE_URL}"}


def test_the_console_is_off_unless_turned_on(render: Any, default: Rendered) -> None:
    def console(rendered: Rendered) -> Any:
        return yaml.safe_load(rendered.one("ConfigMap")["data"]["gateway.yaml"])["console"]

    assert console(default) == {"enabled": False}
    assert console(render(with_keys({"console": {"enabled": True}}))) == {"enabled": True}
    own = render(with_keys({"config": {"console": {"session_ttl_seconds": 3600}}, "console": {"enabled": True}}))
    assert console(own) == {"session_ttl_seconds": 3600, "enabled": True}
    kept = render(with_keys({"config": {"console": {"enabled": False}}, "console": {"enabled": True}}))
    assert console(kept) == {"enabled": False}  # a config.console of your own wins


def test_base_url_env_only_when_set(render: Any, default: Rendered) -> None:
    assert "DASHSCOPE_BASE_URL" not in default.env
    assert "DASHSCOPE_INTL_BASE_URL" not in default.env
    rendered = render(
        with_keys({"dashscope": {"baseUrl": "https://cn.example", "intlBaseUrl": "https://intl.example"}})
    )
    assert rendered.env["DASHSCOPE_BASE_URL"]["value"] == "https://cn.example"
    assert rendered.env["DASHSCOPE_INTL_BASE_URL"]["value"] == "https://intl.example"


# --------------------------------------------------------------------------- optional resources


def test_autoscaling(render: Any, default: Rendered) -> None:
    assert default.maybe("HorizontalPodAutoscaler") is None
    rendered = render(with_keys(VALUE_SETS["autoscaling"][0]))
    hpa = rendered.one("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": FULLNAME}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    # The HPA owns the replica count.
    assert "replicas" not in rendered.deployment["spec"]


def test_pdb(render: Any) -> None:
    pdb = render(with_keys(VALUE_SETS["pdb"][0])).one("PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "image-gateway", "app.kubernetes.io/instance": RELEASE}},
    }
    zero = render(with_keys({"pdb": {"enabled": True, "maxUnavailable": 0}})).one("PodDisruptionBudget")
    assert zero["spec"]["maxUnavailable"] == 0
    min_available = render(with_keys(VALUE_SETS["everything"][0])).one("PodDisruptionBudget")
    assert min_available["spec"]["minAvailable"] == "50%"
    assert "maxUnavailable" not in min_available["spec"]


def test_network_policy(render: Any) -> None:
    open_policy = render(with_keys(VALUE_SETS["networkPolicy"][0])).one("NetworkPolicy")
    assert open_policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert open_policy["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    assert open_policy["spec"]["egress"] == [{}]

    rendered = render(with_keys(VALUE_SETS["networkPolicy-restricted"][0]))
    policy = rendered.one("NetworkPolicy")
    sources = policy["spec"]["ingress"][0]["from"]
    client_label = f"{FULLNAME}-client"
    assert sources[0] == {"podSelector": {"matchLabels": {client_label: "true"}}}
    assert sources[1] == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "clients"}},
        "podSelector": {"matchLabels": {"app": "client"}},
    }
    assert len(policy["spec"]["ingress"]) == 2  # plus extraIngress
    egress_ports = sorted(p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"])
    assert egress_ports == [53, 53, 443, 6379]
    # The helm test pod is admitted by the restricted policy.
    assert rendered.test_pod["metadata"]["labels"][client_label] == "true"


def test_ingress(render: Any) -> None:
    ingress = render(with_keys(VALUE_SETS["ingress"][0])).one("Ingress")
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "image-gateway.example.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": FULLNAME, "port": {"name": "http"}}
    assert ingress["spec"]["tls"] == [{"hosts": ["image-gateway.example.com"], "secretName": "gw-tls"}]


def test_service_monitor(render: Any) -> None:
    rendered = render(with_keys(VALUE_SETS["serviceMonitor"][0]))
    monitor = rendered.one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == NAMESPACE
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == "http"
    assert endpoint["path"] == "/metrics"
    assert endpoint["interval"] == "30s"
    assert endpoint["scrapeTimeout"] == "10s"
    service = rendered.one("Service")
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}

    labelled = render(with_keys(VALUE_SETS["everything"][0])).one("ServiceMonitor")
    assert labelled["metadata"]["labels"]["release"] == "prometheus"


# --------------------------------------------------------------------------- helm test and NOTES


def test_helm_test_pod_calls_readyz(default: Rendered) -> None:
    pod = default.test_pod
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["automountServiceAccountToken"] is False
    (container,) = pod["spec"]["containers"]
    assert container["image"] == default.container["image"]
    command = container.get("command", []) + container.get("args", [])
    urls = [arg for arg in command if isinstance(arg, str) and arg.startswith("http://")]
    service = default.one("Service")
    assert urls == [f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/readyz"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    # The Service/PDB/NetworkPolicy selector must not pick up the test pod.
    selector = default.deployment["spec"]["selector"]["matchLabels"]
    assert not selector.items() <= pod["metadata"]["labels"].items()


def test_notes(default: Rendered) -> None:
    notes = default.notes
    assert f"http://{FULLNAME}.{NAMESPACE}.svc:8000/v1" in notes
    assert f"helm test {RELEASE}" in notes
    assert "client-key-1" not in notes


# --------------------------------------------------------------------------- chart metadata and docs


def test_chart_metadata(chart: Any) -> None:
    metadata = chart.metadata
    assert metadata["name"] == "image-gateway"
    assert metadata["apiVersion"] == "v2"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # The default image tag is the appVersion, which must track the released package.
    assert metadata["appVersion"] == project["version"]


def _undocumented_values(text: str) -> list[str]:
    """Keys in values.yaml without a comment directly above them.

    A ``# --`` comment above a key holding a block documents the whole block (helm-docs style),
    so its children (e.g. the gateway ``config`` or a securityContext) need no comments of their own.
    """
    lines = text.splitlines()
    missing: list[str] = []
    stack: list[tuple[int, str]] = []
    skip_below: int | None = None
    for index, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z0-9_.-]+):(.*)$", line)
        if not match:
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3).strip()
        if skip_below is not None and indent > skip_below:
            continue
        skip_below = None
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        comments: list[str] = []
        for previous in reversed(lines[:index]):
            if not previous.strip().startswith("#"):
                break
            comments.insert(0, previous.strip())
        if not comments:
            missing.append(".".join(k for _, k in stack))
        elif rest in ("", "|", ">") and comments[0].startswith("# --"):
            skip_below = indent
    return missing


def test_every_value_is_documented() -> None:
    assert _undocumented_values((CHART_DIR / "values.yaml").read_text()) == []


def test_values_schema_is_valid_json() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    assert schema["type"] == "object"
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert set(values) <= set(schema["properties"])


# --------------------------------------------------------------------------- Dockerfile


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "dangling line continuation"
    return instructions


def test_dockerfile(chart_values: dict[str, Any]) -> None:
    assert DOCKERFILE.is_file()
    instructions = _dockerfile_instructions()
    by_keyword: dict[str, list[str]] = {}
    for keyword, arguments in instructions:
        by_keyword.setdefault(keyword, []).append(arguments)

    # Multi-stage on slim Python 3.11: a wheel is built in the first stage, installed in the last.
    assert len(by_keyword["FROM"]) >= 2
    args = dict(a.split("=", 1) for a in by_keyword.get("ARG", []) if "=" in a)
    bases = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], f.split()[0]) for f in by_keyword["FROM"]]
    assert all(re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?(@sha256:[0-9a-f]{64})?", b) for b in bases), bases
    stage_starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    first_stage = instructions[stage_starts[0] : stage_starts[1]]
    last_stage = instructions[stage_starts[-1] :]
    assert any(k == "RUN" and "pip wheel" in a for k, a in first_stage)
    assert any(k == "RUN" and "pip install" in a and "image-gateway" in a for k, a in last_stage)

    # A fixed non-root UID, the same one the chart runs as.
    users = [a for k, a in last_stage if k == "USER"]
    assert users, "the final stage must set USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "USER must be a numeric non-root UID (runAsNonRoot checks it)"
    assert int(uid) == chart_values["podSecurityContext"]["runAsUser"]
    assert int(uid) == chart_values["securityContext"]["runAsUser"]

    # `image-gateway serve --host 0.0.0.0` on port 8000, as the chart runs it.
    entrypoint = json.loads(by_keyword["ENTRYPOINT"][-1])
    cmd = json.loads(by_keyword["CMD"][-1]) if "CMD" in by_keyword else []
    assert entrypoint + cmd == ["image-gateway", "serve", "--host", "0.0.0.0"]
    assert by_keyword["EXPOSE"] == [str(chart_values["server"]["port"])]

    # No secrets baked into the image.
    for keyword in ("ENV", "ARG"):
        for arguments in by_keyword.get(keyword, []):
            assert not re.search(r"(KEY|SECRET|TOKEN|PASSWORD)\w*\s*=", arguments, re.IGNORECASE), arguments


def test_chart_runs_the_dockerfile_entrypoint(default: Rendered) -> None:
    instructions = _dockerfile_instructions()
    entrypoint = json.loads(next(a for k, a in reversed(instructions) if k == "ENTRYPOINT"))
    cmd = json.loads(next(a for k, a in reversed(instructions) if k == "CMD"))
    container = default.container
    assert container["command"] == entrypoint
    assert container["args"][: len(cmd)] == cmd


def test_dockerignore() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (
        ".venv",
        ".git",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        "**/__pycache__",
        ".env",
    ):
        assert required in patterns, required


# --------------------------------------------------------------------------- result storage


def _gateway_config(rendered: Rendered, tmp_path: Path, env: dict[str, str]) -> Any:
    settings = pytest.importorskip("gateway.settings")
    path = tmp_path / "gateway.yaml"
    path.write_text(rendered.one("ConfigMap")["data"]["gateway.yaml"])
    return settings.load_config(path, env={"GATEWAY_API_KEYS": "client-key-1", **env})


def test_storage_is_off_by_default(default: Rendered) -> None:
    assert "storage" not in yaml.safe_load(default.one("ConfigMap")["data"]["gateway.yaml"])
    assert not {"STORAGE_URL_SECRET", "S3_ACCESS_KEY_ID"} & set(default.env)
    assert "images" not in {v["name"] for v in default.pod_spec["volumes"]}


def test_local_storage_on_a_claim_with_its_secret(render: Any, tmp_path: Path) -> None:
    rendered = render(with_keys(VALUE_SETS["storage-local"][0]))
    assert rendered.env["STORAGE_URL_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "gw-storage",
        "key": "STORAGE_URL_SECRET",
    }
    volume = next(v for v in rendered.pod_spec["volumes"] if v["name"] == "images")
    assert volume["persistentVolumeClaim"] == {"claimName": "gw-images"}
    mount = next(m for m in rendered.container["volumeMounts"] if m["name"] == "images")
    config = _gateway_config(rendered, tmp_path, {"STORAGE_URL_SECRET": "s" * 32})
    assert config.storage.directory == mount["mountPath"]
    assert config.storage.public_base_url == "https://images.example.com"
    assert "s" * 32 not in json.dumps(rendered.docs)


def test_s3_storage_takes_its_credentials_from_the_secret(render: Any, tmp_path: Path) -> None:
    rendered = render(with_keys(VALUE_SETS["storage-s3"][0]))
    for name in ("S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"):
        assert rendered.env[name]["valueFrom"]["secretKeyRef"] == {"name": "gw-storage", "key": name, "optional": True}
    config = _gateway_config(rendered, tmp_path, {"S3_ACCESS_KEY_ID": "AKIA1", "S3_SECRET_ACCESS_KEY": "secret1"})
    assert (config.storage.bucket, config.storage.region, config.storage.prefix) == ("images", "auto", "gateway/")
    assert config.storage.endpoint == "https://acct.r2.cloudflarestorage.com"
    assert config.storage.access_key_id is not None
    role = render(with_keys({"storage": {"kind": "s3", "s3": {"bucket": "images"}}}))
    assert "S3_ACCESS_KEY_ID" not in role.env  # no Secret: the pod's IAM role
    assert _gateway_config(role, tmp_path, {}).storage.access_key_id is None


@pytest.mark.parametrize(
    "storage, message",
    [
        ({"kind": "local"}, "storage.existingSecret"),
        ({"kind": "s3"}, "storage.s3.bucket"),
        ({"kind": "s3", "s3": {"bucket": "b", "url": "public"}}, "storage.publicBaseUrl"),
    ],
)
def test_storage_values_the_gateway_could_not_start_with_fail(
    chart: Any, storage: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmRenderError, match=re.escape(message)):
        chart.render(with_keys({"storage": storage}), name=RELEASE, namespace=NAMESPACE)
