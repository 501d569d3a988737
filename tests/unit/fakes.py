"""Stand-ins shared by the unit tests: the broker's submit and a sandbox."""

import asyncio
from collections.abc import Callable

import httpx

from runakode.models import Job, JobResult
from runakode.sandboxes import SandboxJob

ClientFor = Callable[..., httpx.AsyncClient]


class FakeSubmit:
    """Stands in for Broker.submit: records every job, answers or raises as told."""

    def __init__(self, result: JobResult) -> None:
        self.calls: list[tuple[Job, float]] = []
        self.result = result
        self.error: Exception | None = None

    async def __call__(self, job: Job, timeout_s: float) -> JobResult:
        self.calls.append((job, timeout_s))
        if self.error is not None:
            raise self.error
        return self.result

    @property
    def job(self) -> Job:
        """The one job submitted so far."""
        [(job, _)] = self.calls
        return job


class FakeSandbox:
    """Stands in for a Sandbox: records jobs; can hold them at a gate, fail, or be closed."""

    def __init__(self, result: JobResult) -> None:
        self.result = result
        self.error: Exception | None = None
        self.jobs: list[SandboxJob] = []
        self.gate: asyncio.Event | None = None
        self.closed = False

    async def start(self) -> None:
        return None

    async def run(self, job: SandboxJob) -> JobResult:
        self.jobs.append(job)
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.result

    async def health(self) -> str | None:
        return "docker is down" if self.closed else None

    async def image_version(self, image: str) -> str | None:
        return f"{image} 1.0"

    async def close(self) -> None:
        self.closed = True
