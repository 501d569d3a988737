import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from runakode import metrics
from runakode.api import HealthCheck, StoredSubmissions, create_app, create_status_app
from runakode.brokers import Broker, create_broker
from runakode.config import Settings
from runakode.jobs import answer_deadline_s, sandbox_spec
from runakode.languages import LANGUAGES
from runakode.models import Job, Status
from runakode.sandboxes import create_backend
from runakode.sandboxes.base import SandboxSpec
from runakode.sandboxes.compile_cache import with_compile_cache
from runakode.sandboxes.ownership import owner_id
from runakode.sandboxes.pool import SandboxPool
from runakode.streaming import Session
from runakode.submissions.callbacks import CallbackSender
from runakode.submissions.dispatch import Dispatcher
from runakode.submissions.intake import Intake
from runakode.submissions.runner import SubmissionRunner
from runakode.submissions.store import SubmissionStore
from runakode.submissions.upkeep import Identity, Upkeep
from runakode.submissions.waiters import Waiters
from runakode.worker import Worker


def pool_kinds(settings: Settings) -> dict[str, SandboxSpec]:
    """Each served language's sandbox, in the shape its jobs will ask for."""
    return {name: sandbox_spec(settings, LANGUAGES[name]) for name in settings.supported_languages}


def create_pool(settings: Settings) -> SandboxPool:
    """Idle sandboxes per language: the configured count, else as recent demand calls for."""
    kinds = pool_kinds(settings)
    return SandboxPool(
        create_backend(settings),
        {spec: settings.sandbox_pool.get(name) for name, spec in kinds.items()},
        names={spec: name for name, spec in kinds.items()},
    )


class Service:
    """The parts one process runs: a broker connection, the submission store, and an API, a
    worker pool, or both."""

    def __init__(self, settings: Settings, broker_kind: str, *, api: bool, workers: bool) -> None:
        self.settings = settings
        self.broker: Broker = create_broker(settings, broker_kind)
        self.api = api
        self.runs_workers = workers
        self.worker: Worker | None = None
        self._identity = Identity(
            id=owner_id(),
            role="combined" if api and workers else "api" if api else "worker",
            slots=settings.max_workers if workers else 0,
            started_at=time.time(),
        )
        self._store: SubmissionStore | None = None
        self._intake: Intake | None = None
        self._upkeep: Upkeep | None = None
        self._callbacks = CallbackSender(settings.callbacks)
        # Every language/status series exists from the start, at 0: before a worker's first job,
        # and in an API-only process, whose own workers finish none.
        for language in settings.supported_languages:
            metrics.RUN_TIME.labels(language)
            for status in Status:
                metrics.JOBS.labels(language, status.value)

    async def start(self) -> None:
        """ConfigError when the store cannot be opened; the broker may come later."""
        settings = self.settings
        store = self._store = await SubmissionStore.open(settings.store.url)
        await self.broker.connect()
        dispatcher = Dispatcher(self.broker, store, self._identity.id)
        if self.api:
            waiters = Waiters()
            await self.broker.serve_replies(waiters.finished)
            self._intake = Intake(settings, store, dispatcher, waiters)
        runner: SubmissionRunner | None = None
        if self.runs_workers:
            runner = SubmissionRunner(settings, store, self._callbacks, self._identity.id)
            pool = create_pool(settings)
            sandboxes = with_compile_cache(settings, pool)
            self.worker = Worker(settings, self.broker, sandboxes, runner)
            await self.worker.start()
        worker = self.worker
        self._upkeep = Upkeep(
            store,
            dispatcher,
            self._identity,
            retention_s=settings.store.retention_s,
            in_flight=lambda: worker.in_flight if worker is not None else 0,
            holding=lambda: set(runner.holding) if runner is not None else set(),
        )
        await self._upkeep.start()

    async def stop(self) -> None:
        grace_s = self.settings.shutdown_grace_s
        if self.worker is not None:
            await self.worker.stop(grace_s)
        await self._callbacks.close(min(grace_s, self.settings.callbacks.timeout_s))
        if self._upkeep is not None:
            await self._upkeep.stop()
        await self.broker.close()
        if self._store is not None:
            await self._store.close()

    def health_checks(self) -> list[HealthCheck]:
        async def broker_health() -> str | None:
            return self.broker.health()

        async def store_health() -> str | None:
            return self._upkeep.problem if self._upkeep is not None else "store not open"

        checks: list[HealthCheck] = [broker_health, store_health]
        if self.worker is not None:
            checks.append(self.worker.health)
        return checks

    def create_app(self) -> FastAPI:
        """The process's HTTP app (after start()): the whole API, or only /health and /metrics
        for a worker."""

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            # Started before the server so that a start-up failure is a clear message; stopped
            # here because the server finishes in-flight requests before it ends the lifespan.
            yield
            await self.stop()

        if not self.api:
            return create_status_app(self.health_checks(), lifespan)
        assert self._store is not None and self._intake is not None, "start() first"
        return create_app(
            self.settings,
            self.broker.submit,
            self.health_checks(),
            lifespan,
            language_versions=self.broker.languages,
            submissions=StoredSubmissions(self._store, self._intake),
            open_session=self.open_session,
        )

    async def open_session(self, job: Job) -> Session:
        return await self.broker.open_session(job, answer_deadline_s(self.settings, job))
