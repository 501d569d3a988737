import asyncio
import codecs
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator

from runakode import metrics
from runakode.brokers import Broker
from runakode.config import Settings
from runakode.errors import PoisonJob, SandboxError
from runakode.jobs import job_result, native_sandbox_job, served_language
from runakode.logs import request_id_var
from runakode.models import Job, JobResult, Status, SubmissionTicket
from runakode.sandboxes import Sandboxes, SandboxJob, SandboxResult
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
from runakode.sandboxes.results import run_status
from runakode.streaming import (
    OutputChunk,
    SessionEvent,
    SessionFinished,
    SessionStarted,
    StageEnded,
    StageStarted,
)
from runakode.submissions.runner import SubmissionRunner

log = logging.getLogger(__name__)

ENGINE_PROBE_INTERVAL_S = 2.0
# Image versions read at once when the worker starts (each may start a Docker container).
IMAGE_READS_AT_ONCE = 8


class Worker:
    """Runs the jobs its broker hands it, each in a fresh sandbox. The broker calls run_job,
    run_submission or run_session (a live run, whose events it passes on as they come), then
    acknowledges the job (and publishes a synchronous job's result)."""

    def __init__(
        self,
        settings: Settings,
        broker: Broker,
        sandboxes: Sandboxes,
        submissions: SubmissionRunner | None = None,
    ) -> None:
        self._settings = settings
        self._broker = broker
        self._sandboxes = sandboxes
        self._submissions = submissions
        self._running: set[asyncio.Task[object]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._engine_problem: str | None = None
        self._versions: dict[str, str | None] = {}
        self._probe: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def start(self) -> None:
        await self._sandboxes.start()
        await self._read_versions()
        self._probe = asyncio.create_task(self._probe_engine())
        await self._broker.consume(self, self._settings.max_workers)
        await self._broker.publish_languages(self.versions)
        log.info("worker pool ready", extra={"slots": self._settings.max_workers})

    async def stop(self, grace_s: float) -> None:
        """Take no new jobs, let running ones finish within grace_s, then remove every sandbox."""
        await self._broker.stop_consuming()
        try:
            await asyncio.wait_for(self._idle.wait(), grace_s)
        except TimeoutError:
            log.warning(
                "grace period over, abandoning running jobs", extra={"jobs": self.in_flight}
            )
            # Unacknowledged, they go back to the queue when the broker connection closes.
            for task in list(self._running):
                task.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        await self._sandboxes.close()

    async def health(self) -> str | None:
        return self._engine_problem

    async def _probe_engine(self) -> None:
        # Probed in the background so /health answers at once even when the engine hangs.
        while True:
            problem = await self._sandboxes.health()
            if problem != self._engine_problem:
                log.warning("sandbox engine: %s", problem or "usable again")
            self._engine_problem = problem
            metrics.ENGINE_UP.set(0 if problem else 1)
            await asyncio.sleep(ENGINE_PROBE_INTERVAL_S)

    async def run_job(self, job: Job) -> JobResult:
        language = served_language(self._settings, job.language)
        async with self._tracked(job.id, job.request_id, job.submitted_at) as done:
            result = job_result(
                await self.run_in_sandbox(native_sandbox_job(self._settings, job, language)),
                job.expected_output,
            ).model_copy(
                update={"language": language.name, "version": self._versions.get(language.name)}
            )
            done.ended(language.name, result.status, result.exit_code)
        return result

    async def run_session(
        self, job: Job, controls: ProgramInput
    ) -> AsyncGenerator[SessionEvent, None]:
        """A live run: its events as they happen, ending with SessionFinished (whose result
        carries no output: it was all in the events)."""
        try:
            language = served_language(self._settings, job.language)
            sandbox_job = native_sandbox_job(self._settings, job, language)
        except PoisonJob as exc:
            yield SessionFinished(result=JobResult.internal_error(exc.message))
            return
        version = self._versions.get(language.name)
        async with self._tracked(job.id, job.request_id, job.submitted_at) as done:
            yield SessionStarted(language=language.name, version=version)
            text = _TextStreams()
            result = SandboxResult.internal_error("the sandbox ended without a result")
            try:
                async with contextlib.aclosing(
                    self._sandboxes.stream(sandbox_job, controls)
                ) as events:
                    async for event in events:
                        if isinstance(event, Finished):
                            result = event.result
                        for session_event in text.translate(event):
                            yield session_event
            except SandboxError as exc:
                log.error("sandbox engine failed: %s", exc.message, extra={"job_id": job.id})
                result = SandboxResult.internal_error("the sandbox engine failed")
            except Exception:
                log.exception("live run failed inside the worker", extra={"job_id": job.id})
                result = SandboxResult.internal_error("the worker failed while running the job")
            answer = job_result(result, job.expected_output).model_copy(
                update={"language": language.name, "version": version}
            )
            done.ended(language.name, answer.status, answer.exit_code)
            yield SessionFinished(result=_without_output(answer))

    async def run_submission(self, ticket: SubmissionTicket, *, redelivered: bool) -> None:
        if self._submissions is None:
            log.error(
                "a submission reached a worker without a store", extra={"token": ticket.token}
            )
            return
        async with self._tracked(ticket.token, ticket.request_id, ticket.submitted_at) as done:
            ran = await self._submissions.run(ticket, self.run_in_sandbox, redelivered=redelivered)
            if ran is not None:
                done.ended(ran.language, ran.status, ran.exit_code)

    async def run_in_sandbox(self, job: SandboxJob) -> SandboxResult:
        """One run in a fresh sandbox; a failure of the service is a result, never an error."""
        try:
            return await self._sandboxes.run(job)
        except SandboxError as exc:
            log.error("sandbox engine failed: %s", exc.message, extra={"job_id": job.job_id})
            return SandboxResult.internal_error("the sandbox engine failed; the job did not run")
        except Exception:
            log.exception("job failed inside the worker", extra={"job_id": job.job_id})
            return SandboxResult.internal_error("the worker failed while running the job")

    @contextlib.asynccontextmanager
    async def _tracked(
        self, job_id: str, request_id: str | None, submitted_at: float
    ) -> AsyncIterator["_Done"]:
        """In-flight tracking, timing, metrics and the started/finished/abandoned log lines."""
        request_id_var.set(request_id)
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        self._idle.clear()
        metrics.IN_FLIGHT.inc()
        metrics.QUEUE_WAIT.observe(max(0.0, time.time() - submitted_at))
        started = time.monotonic()
        log.info("job started", extra={"job_id": job_id})
        outcome = _Done()
        try:
            yield outcome
        except asyncio.CancelledError:
            # Lost broker connection or grace period over: without this, a job that started
            # would simply vanish from the logs.
            log.warning("job abandoned", extra={"job_id": job_id, "language": outcome.language})
            raise
        finally:
            metrics.IN_FLIGHT.dec()
            self._running.discard(task)
            if not self._running:
                self._idle.set()
        elapsed_s = time.monotonic() - started
        if outcome.language is None:
            # Nothing ran: the submission had ended already, or another worker holds it.
            return
        metrics.RUN_TIME.labels(outcome.language).observe(elapsed_s)
        metrics.JOBS.labels(outcome.language, outcome.status).inc()
        log.info(
            "job finished",
            extra={
                "job_id": job_id,
                "language": outcome.language,
                "status": outcome.status,
                "exit_code": outcome.exit_code,
                "duration_ms": int(elapsed_s * 1000),
            },
        )

    @property
    def versions(self) -> dict[str, str | None]:
        return dict(self._versions)

    async def _read_versions(self) -> None:
        """The version of each language whose image is here; the others are unavailable (left
        out of what this worker announces)."""
        available = [
            name
            for name in self._settings.supported_languages
            if self._sandboxes.image_present(self._settings.sandbox_images[name])
        ]
        limit = asyncio.Semaphore(IMAGE_READS_AT_ONCE)

        async def read(name: str) -> str | None:
            async with limit:
                return await self._sandboxes.image_version(self._settings.sandbox_images[name])

        versions = await asyncio.gather(*map(read, available))
        self._versions = dict(zip(available, versions, strict=True))


def _without_output(result: JobResult) -> JobResult:
    if result.status == Status.INTERNAL_ERROR:
        return result  # no program output, only the service's reason in stderr
    compiled = result.compile
    return result.model_copy(
        update={
            "stdout": "",
            "stderr": "",
            "compile": compiled.model_copy(update={"stdout": "", "stderr": ""})
            if compiled is not None
            else None,
        }
    )


class _TextStreams:
    """A sandbox's events as a session's: output decoded as UTF-8 as it comes, a character
    split over two chunks kept whole."""

    def __init__(self) -> None:
        self._decoders: dict[tuple[Phase, Stream], codecs.IncrementalDecoder] = {}

    def translate(self, event: SandboxEvent) -> list[SessionEvent]:
        if isinstance(event, PhaseStarted):
            return [StageStarted(stage=event.phase)]
        if isinstance(event, Output):
            text = self._decoder(event.phase, event.stream).decode(event.data)
            return [self._chunk(event.phase, event.stream, text)] if text else []
        if isinstance(event, PhaseEnded):
            flushed: list[SessionEvent] = []
            for stream in Stream:
                decoder = self._decoders.pop((event.phase, stream), None)
                if decoder is not None and (rest := decoder.decode(b"", final=True)):
                    flushed.append(self._chunk(event.phase, stream, rest))
            return [*flushed, _stage_ended(event)]
        return []

    def _decoder(self, phase: Phase, stream: Stream) -> codecs.IncrementalDecoder:
        key = (phase, stream)
        if key not in self._decoders:
            self._decoders[key] = codecs.getincrementaldecoder("utf-8")(errors="replace")
        return self._decoders[key]

    @staticmethod
    def _chunk(phase: Phase, stream: Stream, text: str) -> OutputChunk:
        return OutputChunk(stage=phase, stream=stream, data=text)


def _stage_ended(event: PhaseEnded) -> StageEnded:
    ended = event.result
    if event.phase == Phase.COMPILE:
        status = Status.COMPILE_ERROR if ended.failed else Status.OK
    else:
        status = run_status(ended)
    return StageEnded(
        stage=event.phase,
        status=status,
        exit_code=None if ended.signal is not None else ended.exit_code,
        signal=ended.signal,
        wall_time_ms=ended.wall_time_ms,
        cpu_time_ms=ended.cpu_time_ms,
        memory_kb=ended.memory_kb,
        time_limit=ended.time_limit.value if ended.time_limit is not None else None,
        memory_exceeded=ended.memory_exceeded,
        output_limit=ended.flooded,
        truncated=ended.truncated,
        message=event.note,
    )


class _Done:
    """How a tracked job ended, as its handler reports it."""

    language: str | None = None
    status: str = ""
    exit_code: int | None = None

    def ended(self, language: str, status: Status, exit_code: int | None) -> None:
        self.language, self.status, self.exit_code = language, status.value, exit_code
