"""deploy/kubernetes/: every core resource is valid against the Kubernetes schemas
(kubernetes-validate, strict), and the pieces fit together: the config loads with the service's
own loader, the probes hit the ports the processes serve, the scaler watches the real queue."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from runakode.config import load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.37.0"
# Custom resources of KEDA: their schemas are KEDA's, not Kubernetes'.
CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication"}
KUSTOMIZATION = "kustomization.yaml"
NOT_IN_DEFAULT = {"hpa-fallback.yaml"}


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifest_files() -> list[Path]:
    """The resources: every YAML file but the kustomizations and the variants' patches."""
    patches = {
        (kustomization.parent / patch["path"]).resolve()
        for kustomization in DEPLOY.rglob(KUSTOMIZATION)
        for patch in documents(kustomization)[0].get("patches", [])
    }
    return sorted(
        path
        for path in DEPLOY.rglob("*.yaml")
        if path.name != KUSTOMIZATION and path.resolve() not in patches
    )


def all_resources() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in manifest_files():
        for doc in documents(path):
            yield path, doc


def resource(kind: str, name: str) -> dict[str, Any]:
    found = [doc for _, doc in all_resources() if doc["kind"] == kind]
    matching = [doc for doc in found if doc["metadata"]["name"] == name]
    assert len(matching) == 1, f"{kind}/{name}: {len(matching)} found"
    return matching[0]


def container(deployment: str) -> dict[str, Any]:
    containers = resource("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


CORE = [
    pytest.param(doc, id=f"{path.name}:{doc['kind']}/{doc['metadata']['name']}")
    for path, doc in all_resources()
    if doc["kind"] not in CUSTOM_KINDS
]


@pytest.mark.parametrize("doc", CORE)
def test_each_core_resource_is_valid_kubernetes(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_broken_resource_is_refused() -> None:
    """The check above can fail: a misspelt field is an error in strict mode."""
    broken = yaml.safe_load(yaml.safe_dump(resource("Service", "runakode-api")))
    broken["spec"]["prots"] = broken["spec"].pop("ports")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_applies_every_file_but_the_hpa_fallback() -> None:
    listed = set(documents(DEPLOY / KUSTOMIZATION)[0]["resources"])
    top_level = {path.name for path in DEPLOY.glob("*.yaml")} - {KUSTOMIZATION}
    assert listed == top_level - NOT_IN_DEFAULT
    for path in sorted(DEPLOY.glob("variants/*/" + KUSTOMIZATION)):
        kustomization = documents(path)[0]
        assert kustomization["resources"] == ["../.."], path
        for patch in kustomization["patches"]:
            patched = documents(path.parent / patch["path"])[0]
            target = resource(patched["kind"], patched["metadata"]["name"])
            names = {c["name"] for c in target["spec"]["template"]["spec"]["containers"]}
            assert {c["name"] for c in patched["spec"]["template"]["spec"]["containers"]} <= names


def secret_values() -> dict[str, str]:
    return dict(resource("Secret", "runakode-secrets")["stringData"])


def test_the_config_map_is_a_config_the_service_loads(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(resource("ConfigMap", "runakode-config")["data"]["config.yaml"])
    environ = {key: value for key, value in secret_values().items() if key.startswith("RUNAKODE_")}
    settings = load_settings(config, environ=environ)
    assert settings.broker == "rabbitmq"
    assert settings.rabbitmq.url == environ["RUNAKODE_RABBITMQ_URL"]
    assert settings.store.url.startswith("postgresql://")
    assert settings.auth.enabled and settings.auth.admin_tokens
    assert settings.address == "0.0.0.0"


def test_every_secret_reference_names_a_key_of_the_secret() -> None:
    keys = set(secret_values())
    for name in ("runakode-api", "runakode-worker"):
        for variable in container(name).get("env", []):
            if reference := variable.get("valueFrom", {}).get("secretKeyRef"):
                assert reference["name"] == "runakode-secrets"
                assert reference["key"] in keys, (name, reference)
    for target in resource("TriggerAuthentication", "runakode-rabbitmq")["spec"]["secretTargetRef"]:
        assert target["key"] in keys


def loaded_settings(tmp_path: Path) -> Any:
    config = tmp_path / "config.yaml"
    config.write_text(resource("ConfigMap", "runakode-config")["data"]["config.yaml"])
    return load_settings(config, environ={})


@pytest.mark.parametrize(
    ("deployment", "command", "port_setting"),
    [
        ("runakode-api", "runakode-api", "port"),
        ("runakode-worker", "runakode-worker", "worker_port"),
    ],
)
def test_each_process_is_probed_on_the_port_it_serves(
    tmp_path: Path, deployment: str, command: str, port_setting: str
) -> None:
    settings = loaded_settings(tmp_path)
    spec = container(deployment)
    assert spec["command"][:1] == [command]
    assert spec["command"][1:] == ["--config", "/etc/runakode/config.yaml"]
    ports = {port["name"]: port["containerPort"] for port in spec["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        http = spec[probe]["httpGet"]
        assert http["path"] == "/health"
        assert ports[http["port"]] == getattr(settings, port_setting)
    template = resource("Deployment", deployment)["spec"]["template"]["metadata"]
    assert int(template["annotations"]["prometheus.io/port"]) == getattr(settings, port_setting)
    assert spec["resources"]["limits"]["cpu"] and spec["resources"]["limits"]["memory"]
    assert spec["resources"]["requests"]
    # Local names: this project has no registry and names none.
    assert "/" not in spec["image"]


def test_workers_outlive_their_shutdown_grace(tmp_path: Path) -> None:
    settings = loaded_settings(tmp_path)
    for name in ("runakode-api", "runakode-worker"):
        grace = resource("Deployment", name)["spec"]["template"]["spec"]
        assert grace["terminationGracePeriodSeconds"] > settings.shutdown_grace_s


def test_the_service_reaches_the_api_pods() -> None:
    service = resource("Service", "runakode-api")["spec"]
    api = resource("Deployment", "runakode-api")["spec"]
    labels = api["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    assert api["selector"]["matchLabels"].items() <= labels.items()
    port_names = {port["name"] for port in container("runakode-api")["ports"]}
    assert {port["targetPort"] for port in service["ports"]} <= port_names


def test_workers_run_on_the_gvisor_nodes_the_runtime_class_selects() -> None:
    runtime_class = resource("RuntimeClass", "gvisor")
    assert runtime_class["handler"] == "runsc"
    scheduling = runtime_class["scheduling"]
    worker = resource("Deployment", "runakode-worker")["spec"]["template"]["spec"]
    assert worker["nodeSelector"] == scheduling["nodeSelector"]
    assert worker["tolerations"] == scheduling["tolerations"]
    mounts = {mount["mountPath"] for mount in container("runakode-worker")["volumeMounts"]}
    assert "/var/run/docker.sock" in mounts
    api = resource("Deployment", "runakode-api")["spec"]["template"]["spec"]
    assert api["runtimeClassName"] == "gvisor"


def test_workers_scale_on_the_depth_of_the_queue_they_consume(tmp_path: Path) -> None:
    settings = loaded_settings(tmp_path)
    scaled = resource("ScaledObject", "runakode-worker")["spec"]
    assert scaled["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "runakode-worker",
    }
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == settings.rabbitmq.queue
    assert trigger["metadata"]["mode"] == "QueueLength"
    assert trigger["authenticationRef"]["name"] == "runakode-rabbitmq"
    fallback = resource("HorizontalPodAutoscaler", "runakode-worker")["spec"]
    assert fallback["scaleTargetRef"] == scaled["scaleTargetRef"]


def test_disruption_budgets_cover_both_deployments() -> None:
    for name in ("runakode-api", "runakode-worker"):
        budget = resource("PodDisruptionBudget", name)["spec"]
        labels = resource("Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert budget["selector"]["matchLabels"].items() <= labels.items()
