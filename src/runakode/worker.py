import asyncio
import contextlib
import logging
import time

from runakode import metrics
from runakode.brokers import Broker
from runakode.config import Settings
from runakode.errors import PoisonJob, SandboxError
from runakode.languages import LANGUAGES, Language
from runakode.logs import request_id_var
from runakode.models import Job, JobResult, check_file_name
from runakode.sandboxes import Sandbox, SandboxFile, SandboxJob

log = logging.getLogger(__name__)

ENGINE_PROBE_INTERVAL_S = 2.0


class Worker:
    """Takes jobs from the broker, runs each in a fresh sandbox, and hands back the result."""

    def __init__(self, settings: Settings, broker: Broker, sandbox: Sandbox) -> None:
        self._settings = settings
        self._broker = broker
        self._sandbox = sandbox
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
        await self._sandbox.start()
        await self._read_versions()
        self._probe = asyncio.create_task(self._probe_engine())
        await self._broker.consume(self.handle, self._settings.max_workers)
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
        await self._sandbox.close()

    async def health(self) -> str | None:
        return self._engine_problem

    async def _probe_engine(self) -> None:
        # Probed in the background so /health answers at once even when the engine hangs.
        while True:
            problem = await self._sandbox.health()
            if problem != self._engine_problem:
                log.warning("sandbox engine: %s", problem or "usable again")
            self._engine_problem = problem
            metrics.ENGINE_UP.set(0 if problem else 1)
            await asyncio.sleep(ENGINE_PROBE_INTERVAL_S)

    async def handle(self, job: Job) -> JobResult:
        language = self._language(job.language)
        request_id_var.set(job.request_id)
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        self._idle.clear()
        metrics.IN_FLIGHT.inc()
        metrics.QUEUE_WAIT.observe(max(0.0, time.time() - job.submitted_at))
        started = time.monotonic()
        log.info("job started", extra={"job_id": job.id, "language": job.language})
        try:
            result = await self._run(job, language)
        except asyncio.CancelledError:
            # Lost broker connection or grace period over: without this, a job that started
            # would simply vanish from the logs.
            log.warning("job abandoned", extra={"job_id": job.id, "language": job.language})
            raise
        finally:
            metrics.IN_FLIGHT.dec()
            self._running.discard(task)
            if not self._running:
                self._idle.set()
        elapsed_s = time.monotonic() - started
        metrics.RUN_TIME.labels(job.language).observe(elapsed_s)
        metrics.JOBS.labels(job.language, result.status.value).inc()
        log.info(
            "job finished",
            extra={
                "job_id": job.id,
                "language": job.language,
                "status": result.status.value,
                "exit_code": result.exit_code,
                "duration_ms": int(elapsed_s * 1000),
            },
        )
        return result

    async def _run(self, job: Job, language: Language) -> JobResult:
        result = await self._run_in_sandbox(job, language)
        return result.model_copy(
            update={"language": language.name, "version": self._versions.get(language.name)}
        )

    async def _run_in_sandbox(self, job: Job, language: Language) -> JobResult:
        sandbox_job = self.sandbox_job(job, language)
        try:
            return await self._sandbox.run(sandbox_job)
        except SandboxError as exc:
            log.error("sandbox engine failed: %s", exc.message, extra={"job_id": job.id})
            return JobResult.internal_error("the sandbox engine failed; the job did not run")
        except Exception:
            log.exception("job failed inside the worker", extra={"job_id": job.id})
            return JobResult.internal_error("the worker failed while running the job")

    def _language(self, name: str) -> Language:
        if name not in self._settings.supported_languages or name not in LANGUAGES:
            raise PoisonJob(f"language {name!r} is not served by this worker")
        return LANGUAGES[name]

    @property
    def versions(self) -> dict[str, str | None]:
        return dict(self._versions)

    async def _read_versions(self) -> None:
        for name in self._settings.supported_languages:
            image = self._settings.sandbox_images[name]
            self._versions[name] = await self._sandbox.image_version(image)

    def sandbox_job(self, job: Job, language: Language) -> SandboxJob:
        """The job as the sandbox runs it; its limits never exceed the operator's."""
        settings = self._settings
        main_file = language.main_file(job.source_code)
        extra = [file for file in job.files if file.name != main_file]
        if len(extra) != len(job.files):
            raise PoisonJob(f"a file is named like the main source file {main_file!r}")
        try:
            names = [check_file_name(file.name) for file in extra]
        except ValueError as exc:
            raise PoisonJob(f"unsafe file name: {exc}") from None
        files = (
            SandboxFile(main_file, job.source_code.encode("utf-8")),
            *(
                SandboxFile(name, f.content.encode("utf-8"))
                for name, f in zip(names, extra, strict=True)
            ),
        )
        compile_argv = language.compile_argv(main_file)
        return SandboxJob(
            job_id=job.id,
            image=settings.sandbox_images[language.name],
            files=files,
            run_argv=language.run_argv(main_file, tuple(job.args)),
            timeout_s=min(job.timeout_s or settings.job_timeout_s, settings.job_timeout_s),
            compile_argv=compile_argv,
            compile_timeout_s=settings.compile_timeout_s if compile_argv else 0.0,
            compile_output_max_bytes=settings.compile_output_max_bytes,
            stdin=job.stdin.encode("utf-8"),
            output_max_bytes=min(
                job.output_max_bytes or settings.output_max_bytes, settings.output_max_bytes
            ),
            memory_bytes=min(
                job.memory_bytes or settings.job_memory_bytes, settings.job_memory_bytes
            ),
            cpus=settings.job_cpus,
            merge_output=job.merge_output,
        )
