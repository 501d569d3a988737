import logging

from runakode.config import Settings
from runakode.sandboxes import cgroups
from runakode.sandboxes.base import (
    CompileStep,
    PhaseResult,
    RunLimits,
    SandboxBackend,
    Sandboxes,
    SandboxFile,
    SandboxJob,
    SandboxResult,
    SandboxSpec,
)
from runakode.sandboxes.choice import Host, choose_backend
from runakode.sandboxes.docker_api import DockerClient

log = logging.getLogger(__name__)


def create_backend(settings: Settings, host: Host | None = None) -> SandboxBackend:
    """The sandbox engine `sandboxBackend` names, or for `auto` the one this host allows:
    Docker with gVisor, or runsc driven directly. `host` is probed when not given."""
    # Imported here: each backend pulls in its own engine's code.
    from runakode.sandboxes.docker_impl import DockerBackend
    from runakode.sandboxes.runsc_impl import RUNSC, RunscBackend

    if host is None:
        host = Host.probe(RUNSC, cgroups.detect())
    choice = choose_backend(settings.sandbox_backend, host)
    log.info(
        "sandbox backend: %s",
        choice,
        extra={"sandbox_backend": choice.name, "reason": choice.reason},
    )
    images = [settings.sandbox_images[name] for name in settings.supported_languages]
    docker = DockerClient(settings.docker_socket)
    if choice.name == "runsc":
        return RunscBackend(images, docker, host.cgroups)
    return DockerBackend(images, docker)


__all__ = [
    "CompileStep",
    "PhaseResult",
    "RunLimits",
    "SandboxBackend",
    "SandboxFile",
    "SandboxJob",
    "SandboxResult",
    "SandboxSpec",
    "Sandboxes",
    "create_backend",
]
