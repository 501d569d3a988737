"""Stand-ins shared by the unit tests: a clock, the broker's submit and a sandbox."""

import asyncio
from collections.abc import AsyncGenerator, Callable

import httpx

from runakode.models import Job, JobResult, Status
from runakode.sandboxes import PhaseResult, SandboxJob, SandboxResult
from runakode.sandboxes.base import (
    Finished,
    Output,
    Phase,
    PhaseEnded,
    PhaseStarted,
    ProgramInput,
    SandboxEvent,
    Stream,
)

ClientFor = Callable[..., httpx.AsyncClient]


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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


def ok_sandbox_result(stdout: bytes = b"hello\n") -> SandboxResult:
    run = PhaseResult(
        stdout=stdout,
        stderr=b"",
        exit_code=0,
        signal=None,
        wall_time_ms=12,
        cpu_time_ms=5,
        memory_kb=9000,
    )
    return SandboxResult(Status.OK, None, run)


class FakeSandbox:
    """Stands in for a Sandbox: records jobs; can hold them at a gate, fail, or be closed."""

    def __init__(self, result: SandboxResult) -> None:
        self.result = result
        self.error: Exception | None = None
        self.jobs: list[SandboxJob] = []
        self.gate: asyncio.Event | None = None
        self.closed = False
        self.controls: ProgramInput | None = None

    async def start(self) -> None:
        return None

    async def run(self, job: SandboxJob) -> SandboxResult:
        self.jobs.append(job)
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.result

    async def stream(
        self, job: SandboxJob, controls: ProgramInput | None = None
    ) -> AsyncGenerator[SandboxEvent, None]:
        """The result as events: its stages, their output, the end of each, then Finished."""
        self.jobs.append(job)
        self.controls = controls
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        for phase, result in ((Phase.COMPILE, self.result.compile), (Phase.RUN, self.result.run)):
            if result is None:
                continue
            yield PhaseStarted(phase)
            if result.stdout:
                yield Output(phase, Stream.STDOUT, result.stdout)
            if result.stderr:
                yield Output(phase, Stream.STDERR, result.stderr)
            yield PhaseEnded(phase, result, self.result.note)
        yield Finished(self.result)

    async def health(self) -> str | None:
        return "docker is down" if self.closed else None

    def image_present(self, image: str) -> bool:
        return True

    async def image_version(self, image: str) -> str | None:
        return f"{image} 1.0"

    async def close(self) -> None:
        self.closed = True
