import asyncio
import logging

from runakode.brokers import Broker
from runakode.config import Settings
from runakode.errors import PoisonJob, SandboxError
from runakode.languages import LANGUAGES, Language
from runakode.models import Job, JobResult
from runakode.sandboxes import Sandbox, SandboxFile, SandboxJob

log = logging.getLogger(__name__)


class Worker:
    """Takes jobs from the broker, runs each in a fresh sandbox, and hands back the result."""

    def __init__(self, settings: Settings, broker: Broker, sandbox: Sandbox) -> None:
        self._settings = settings
        self._broker = broker
        self._sandbox = sandbox
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def start(self) -> None:
        await self._sandbox.start()
        await self._broker.consume(self.handle, self._settings.max_workers)

    async def stop(self, grace_s: float) -> None:
        """Take no new jobs, let running ones finish within grace_s, then remove every sandbox."""
        await self._broker.stop_consuming()
        try:
            await asyncio.wait_for(self._idle.wait(), grace_s)
        except TimeoutError:
            log.warning("stopping with %d job(s) still running", self._in_flight)
        await self._sandbox.close()

    async def health(self) -> str | None:
        return await self._sandbox.health()

    async def handle(self, job: Job) -> JobResult:
        language = self._language(job.language)
        self._in_flight += 1
        self._idle.clear()
        try:
            return await self._sandbox.run(self.sandbox_job(job, language))
        except SandboxError as exc:
            log.error("sandbox engine failed: %s", exc.message, extra={"job_id": job.id})
            return JobResult.internal_error("the sandbox engine failed; the job did not run")
        except Exception:
            log.exception("job failed inside the worker", extra={"job_id": job.id})
            return JobResult.internal_error("the worker failed while running the job")
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    def _language(self, name: str) -> Language:
        if name not in self._settings.supported_languages or name not in LANGUAGES:
            raise PoisonJob(f"language {name!r} is not served by this worker")
        return LANGUAGES[name]

    def sandbox_job(self, job: Job, language: Language) -> SandboxJob:
        settings = self._settings
        return SandboxJob(
            job_id=job.id,
            image=settings.sandbox_images[language.name],
            files=(SandboxFile(language.source_file, job.source_code.encode("utf-8")),),
            run_argv=language.run,
            timeout_s=settings.job_timeout_s,
            compile_argv=language.compile,
            compile_timeout_s=settings.job_timeout_s if language.compile else 0.0,
            output_max_bytes=settings.output_max_bytes,
            memory_bytes=settings.job_memory_bytes,
            cpus=settings.job_cpus,
        )
