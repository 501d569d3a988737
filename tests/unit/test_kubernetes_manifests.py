"""deploy/kubernetes/: every core resource is valid against the Kubernetes schemas
(kubernetes-validate, strict), and the pieces fit together: the config loads with the service's
own loader, the probes hit the ports the processes serve, the scaler watches the real queue, and
kustomize renders both the default and the runsc-backend variant."""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from runakode.config import Settings, load_settings
from runakode.sandboxes import runsc_impl
from runakode.sandboxes.cgroups import tree

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
# The newest release kubernetes-validate ships schemas for.
KUBERNETES_VERSION = "1.37.0"
# Custom resources of KEDA: their schemas are KEDA's, not Kubernetes'.
CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication"}
KUSTOMIZATION = "kustomization.yaml"
NOT_IN_DEFAULT = {"hpa-fallback.yaml"}
RUNSC_VARIANT = DEPLOY / "variants" / "runsc-backend"
SECRET = "runakode-secrets"
DEPLOYMENTS = ("runakode-api", "runakode-worker")


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


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matching = [doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(matching) == 1, f"{kind}/{name}: {len(matching)} found"
    return matching[0]


def resource(kind: str, name: str) -> dict[str, Any]:
    return find([doc for _, doc in all_resources()], kind, name)


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    return dict(deployment["spec"]["template"]["spec"])


def only_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = pod_spec(deployment)["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def container(deployment: str) -> dict[str, Any]:
    return only_container(resource("Deployment", deployment))


def secret_values() -> dict[str, str]:
    return dict(resource("Secret", SECRET)["stringData"])


def settings_of(tmp_path: Path, environ: dict[str, str]) -> Settings:
    """The ConfigMap's config.yaml through the service's own loader, with these variables."""
    config = tmp_path / "config.yaml"
    config.write_text(resource("ConfigMap", "runakode-config")["data"]["config.yaml"])
    return load_settings(config, environ=environ)


def container_environ(spec: dict[str, Any]) -> dict[str, str]:
    """A container's RUNAKODE_* variables as the process sees them (Secret references read
    from the example Secret)."""
    secrets = secret_values()
    environ = {}
    for variable in spec.get("env", []):
        if "value" in variable:
            environ[variable["name"]] = variable["value"]
        else:
            reference = variable["valueFrom"]["secretKeyRef"]
            assert reference["name"] == SECRET
            environ[variable["name"]] = secrets[reference["key"]]
    return environ


def render(tmp_path: Path, *components: Path) -> list[dict[str, Any]]:
    """What `kubectl apply -k` would apply: deploy/kubernetes through kustomize, with these
    components, from an overlay in tmp_path (kustomize takes relative paths only)."""
    if kubectl := shutil.which("kubectl"):
        command = [kubectl, "kustomize"]
    elif kustomize := shutil.which("kustomize"):
        command = [kustomize, "build"]
    elif os.environ.get("CI") == "true":
        pytest.fail("neither kubectl nor kustomize is installed: CI renders the manifests")
    else:
        pytest.skip("neither kubectl nor kustomize is installed")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(DEPLOY, overlay)],
        "components": [os.path.relpath(component, overlay) for component in components],
    }
    (overlay / KUSTOMIZATION).write_text(yaml.safe_dump(kustomization))
    done = subprocess.run(
        [*command, str(overlay)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def validate_core(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        if doc["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


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
    assert top_level >= NOT_IN_DEFAULT


def test_the_default_render_is_every_listed_resource_and_valid(tmp_path: Path) -> None:
    rendered = render(tmp_path)
    expected = {
        (doc["kind"], doc["metadata"]["name"])
        for path, doc in all_resources()
        if path.parent == DEPLOY and path.name not in NOT_IN_DEFAULT
    }
    assert {(doc["kind"], doc["metadata"]["name"]) for doc in rendered} == expected
    validate_core(rendered)
    # The Docker backend needs the socket only: no privileged container by default.
    worker = only_container(find(rendered, "Deployment", "runakode-worker"))
    assert not worker["securityContext"].get("privileged", False)
    assert worker["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_the_runsc_variant_is_a_component_patching_the_worker() -> None:
    kustomization = documents(RUNSC_VARIANT / KUSTOMIZATION)[0]
    # An overlay inside its own base is refused by kustomize ("cycle detected").
    assert kustomization["kind"] == "Component"
    for patch in kustomization["patches"]:
        patched = documents(RUNSC_VARIANT / patch["path"])[0]
        target = resource(patched["kind"], patched["metadata"]["name"])
        names = {c["name"] for c in pod_spec(target)["containers"]}
        assert {c["name"] for c in pod_spec(patched)["containers"]} <= names


def test_the_runsc_variant_renders_a_worker_the_runsc_backend_can_use(tmp_path: Path) -> None:
    rendered = render(tmp_path, RUNSC_VARIANT)
    validate_core(rendered)
    deployment = find(rendered, "Deployment", "runakode-worker")
    worker = only_container(deployment)
    security = worker["securityContext"]
    assert security["privileged"] is True
    # The API server refuses privileged with allowPrivilegeEscalation false.
    assert security.get("allowPrivilegeEscalation") is not False
    assert security.get("runAsUser") == 0
    settings = settings_of(tmp_path, container_environ(worker))
    assert settings.sandbox_backend == "runsc"
    # Every path the runsc backend writes, the cgroup tree and the Docker socket (it unpacks the
    # images through Docker) are the node's own.
    host_volumes = {
        volume["name"]: volume["hostPath"]["path"]
        for volume in pod_spec(deployment)["volumes"]
        if "hostPath" in volume
    }
    mounted = {
        Path(mount["mountPath"]): Path(host_volumes[mount["name"]])
        for mount in worker["volumeMounts"]
        if mount["name"] in host_volumes
    }
    needed = [
        runsc_impl.STATE_DIR,
        runsc_impl.BUNDLE_DIR,
        runsc_impl.ROOTFS_DIR,
        tree.CGROUP_ROOT,
        Path(settings.docker_socket),
    ]
    for path in needed:
        assert any(
            path.is_relative_to(inside) and path.is_relative_to(on_node)
            for inside, on_node in mounted.items()
        ), path


def test_the_config_map_is_a_config_the_service_loads(tmp_path: Path) -> None:
    environ = {key: value for key, value in secret_values().items() if key.startswith("RUNAKODE_")}
    settings = settings_of(tmp_path, environ)
    assert settings.broker == "rabbitmq"
    assert settings.rabbitmq.url == environ["RUNAKODE_RABBITMQ_URL"]
    assert "@rabbitmq.runakode.svc:5672/" in settings.rabbitmq.url
    assert settings.store.url == environ["RUNAKODE_STORE_URL"]
    assert settings.store.url.startswith("postgresql://")
    assert "@postgresql.runakode.svc:5432/" in settings.store.url
    assert settings.auth.enabled and settings.auth.admin_tokens
    assert settings.address == "0.0.0.0"
    assert settings.sandbox_backend == "docker"
    # Without the Secret, the config would point at nothing the cluster has.
    assert "runakode.svc" not in settings_of(tmp_path, {}).rabbitmq.url


def test_the_secret_holds_placeholders_to_replace() -> None:
    for key, value in secret_values().items():
        assert "REPLACE-ME" in value, key


def test_each_process_sees_the_secret_it_needs(tmp_path: Path) -> None:
    keys = set(secret_values())
    for name in DEPLOYMENTS:
        environ = container_environ(container(name))
        assert {"RUNAKODE_RABBITMQ_URL", "RUNAKODE_STORE_URL"} <= environ.keys(), name
        settings = settings_of(tmp_path, environ)
        assert settings.store.url.startswith("postgresql://"), name
    assert settings_of(tmp_path, container_environ(container("runakode-api"))).auth.enabled
    for target in resource("TriggerAuthentication", "runakode-rabbitmq")["spec"]["secretTargetRef"]:
        assert target["key"] in keys
        assert secret_values()[target["key"]].startswith("amqp://")


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
    settings = settings_of(tmp_path, {})
    spec = container(deployment)
    assert spec["command"] == [command, "--config", "/etc/runakode/config.yaml"]
    mounts = {mount["mountPath"]: mount["name"] for mount in spec["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(resource("Deployment", deployment))["volumes"]}
    assert volumes[mounts["/etc/runakode"]]["configMap"]["name"] == "runakode-config"
    ports = {port["name"]: port["containerPort"] for port in spec["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        http = spec[probe]["httpGet"]
        assert http["path"] == "/health"
        assert ports[http["port"]] == getattr(settings, port_setting)
    template = resource("Deployment", deployment)["spec"]["template"]["metadata"]
    assert template["annotations"]["prometheus.io/scrape"] == "true"
    assert template["annotations"]["prometheus.io/path"] == "/metrics"
    assert int(template["annotations"]["prometheus.io/port"]) == getattr(settings, port_setting)


def test_every_deployment_has_probes_limits_and_a_local_image() -> None:
    deployments = [doc for _, doc in all_resources() if doc["kind"] == "Deployment"]
    assert {doc["metadata"]["name"] for doc in deployments} == set(DEPLOYMENTS)
    for deployment in deployments:
        for spec in pod_spec(deployment)["containers"]:
            where = (deployment["metadata"]["name"], spec["name"])
            assert spec["readinessProbe"] and spec["livenessProbe"], where
            assert {"cpu", "memory"} <= spec["resources"]["limits"].keys(), where
            assert {"cpu", "memory"} <= spec["resources"]["requests"].keys(), where
            # This project has no registry: a local name (no registry host), never pulled.
            assert "/" not in spec["image"] and ":" in spec["image"], where
            assert spec["imagePullPolicy"] == "Never", where


def test_the_api_runs_unprivileged_anywhere() -> None:
    api = pod_spec(resource("Deployment", "runakode-api"))
    assert "runtimeClassName" not in api and "nodeSelector" not in api
    assert api["securityContext"]["runAsNonRoot"] is True
    security = container("runakode-api")["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert resource("Deployment", "runakode-api")["spec"]["replicas"] == 2


def test_pods_outlive_their_shutdown_grace(tmp_path: Path) -> None:
    settings = settings_of(tmp_path, {})
    for name in DEPLOYMENTS:
        grace = pod_spec(resource("Deployment", name))["terminationGracePeriodSeconds"]
        assert grace > settings.shutdown_grace_s, name


def test_the_service_reaches_the_api_pods(tmp_path: Path) -> None:
    service = resource("Service", "runakode-api")["spec"]
    api = resource("Deployment", "runakode-api")["spec"]
    labels = api["template"]["metadata"]["labels"]
    assert service["type"] == "ClusterIP"
    assert service["selector"].items() <= labels.items()
    assert api["selector"]["matchLabels"].items() <= labels.items()
    ports = {port["name"]: port["containerPort"] for port in container("runakode-api")["ports"]}
    (port,) = service["ports"]
    assert port["port"] == 80
    assert ports[port["targetPort"]] == settings_of(tmp_path, {}).port


def test_workers_run_on_the_gvisor_nodes_the_runtime_class_selects(tmp_path: Path) -> None:
    runtime_class = resource("RuntimeClass", "gvisor")
    assert runtime_class["apiVersion"] == "node.k8s.io/v1"
    assert runtime_class["handler"] == "runsc"
    scheduling = runtime_class["scheduling"]
    assert scheduling["nodeSelector"] == {"runakode.dev/gvisor": "true"}
    worker = pod_spec(resource("Deployment", "runakode-worker"))
    assert worker["nodeSelector"] == scheduling["nodeSelector"]
    assert worker["tolerations"] == scheduling["tolerations"]
    # The Docker backend: the node's engine, whose runtime runsc boots each sandbox.
    settings = settings_of(tmp_path, container_environ(container("runakode-worker")))
    assert settings.sandbox_backend == "docker"
    sockets = {
        volume["name"]: volume["hostPath"]
        for volume in worker["volumes"]
        if volume.get("hostPath", {}).get("type") == "Socket"
    }
    mounts = {m["mountPath"]: m["name"] for m in container("runakode-worker")["volumeMounts"]}
    assert sockets[mounts[settings.docker_socket]]["path"] == "/var/run/docker.sock"


def test_workers_scale_on_the_depth_of_the_queue_they_consume(tmp_path: Path) -> None:
    settings = settings_of(tmp_path, {})
    scaled = resource("ScaledObject", "runakode-worker")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "runakode-worker",
    }
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == settings.rabbitmq.queue == "runner_jobs"
    assert trigger["metadata"]["mode"] == "QueueLength"
    assert int(trigger["metadata"]["value"]) >= 1
    authentication = resource("TriggerAuthentication", trigger["authenticationRef"]["name"])
    (target,) = authentication["spec"]["secretTargetRef"]
    assert (target["parameter"], target["name"]) == ("host", SECRET)
    fallback = resource("HorizontalPodAutoscaler", "runakode-worker")
    assert fallback["apiVersion"] == "autoscaling/v2"
    assert fallback["spec"]["scaleTargetRef"] == scaled["spec"]["scaleTargetRef"]
    (metric,) = fallback["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"


def test_disruption_budgets_cover_both_deployments() -> None:
    for name in DEPLOYMENTS:
        budget = resource("PodDisruptionBudget", name)["spec"]
        labels = resource("Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert budget["selector"]["matchLabels"].items() <= labels.items()
