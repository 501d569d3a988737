from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from runakode import metrics
from runakode.api import HealthCheck, create_app, create_status_app
from runakode.brokers import Broker, create_broker
from runakode.config import Settings
from runakode.models import Status
from runakode.sandboxes.base import SandboxSpec
from runakode.sandboxes.docker_api import DockerClient
from runakode.sandboxes.docker_impl import DockerSandbox
from runakode.sandboxes.pool import PreparingBackend, SandboxPool
from runakode.sandboxes.runsc_impl import RunscSandbox
from runakode.worker import Worker


def pool_targets(settings: Settings) -> dict[SandboxSpec, int]:
    """Idle sandboxes to keep per language, in the shape its jobs will ask for."""
    return {
        SandboxSpec(settings.sandbox_images[name], settings.job_memory_bytes, settings.job_cpus): (
            settings.sandbox_pool.get(name, 0)
        )
        for name in settings.supported_languages
    }


class Service:
    """The parts one process runs: a broker connection, and an API, a worker pool, or both."""

    def __init__(self, settings: Settings, broker_kind: str, *, api: bool, workers: bool) -> None:
        self.settings = settings
        self.broker: Broker = create_broker(settings, broker_kind)
        self.worker: Worker | None = None
        self.api = api
        # Every language/status series exists from the start, at 0: before a worker's first job,
        # and in an API-only process, whose own workers finish none.
        for language in settings.supported_languages:
            metrics.RUN_TIME.labels(language)
            for status in Status:
                metrics.JOBS.labels(language, status.value)
        if workers:
            images = [settings.sandbox_images[name] for name in settings.supported_languages]
            docker = DockerClient(settings.docker_socket)
            backend: PreparingBackend = (
                RunscSandbox(images, docker)
                if settings.sandbox_backend == "runsc"
                else DockerSandbox(images, docker)
            )
            self.worker = Worker(
                settings, self.broker, SandboxPool(backend, pool_targets(settings))
            )

    async def start(self) -> None:
        await self.broker.connect()
        if self.api:
            await self.broker.serve_replies()
        if self.worker is not None:
            await self.worker.start()

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop(self.settings.shutdown_grace_s)
        await self.broker.close()

    def health_checks(self) -> list[HealthCheck]:
        async def broker_health() -> str | None:
            return self.broker.health()

        checks: list[HealthCheck] = [broker_health]
        if self.worker is not None:
            checks.append(self.worker.health)
        return checks

    def create_app(self) -> FastAPI:
        """The process's HTTP app: the whole API, or only /health and /metrics for a worker."""

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            # Started before the server so that a start-up failure is a clear message; stopped
            # here because the server finishes in-flight requests before it ends the lifespan.
            yield
            await self.stop()

        if not self.api:
            return create_status_app(self.health_checks(), lifespan)
        return create_app(
            self.settings,
            self.broker.submit,
            self.health_checks(),
            lifespan,
            language_versions=self.broker.languages,
        )
