from runakode.config import Settings
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
from runakode.sandboxes.docker_api import DockerClient


def create_backend(settings: Settings) -> SandboxBackend:
    """The sandbox engine the settings name: Docker with gVisor, or runsc driven directly."""
    # Imported here: each backend pulls in its own engine's code.
    from runakode.sandboxes.docker_impl import DockerBackend
    from runakode.sandboxes.runsc_impl import RunscBackend

    images = [settings.sandbox_images[name] for name in settings.supported_languages]
    docker = DockerClient(settings.docker_socket)
    if settings.sandbox_backend == "runsc":
        return RunscBackend(images, docker)
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
