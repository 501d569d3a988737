"""The same program is compiled once: a layer over the sandbox pool, for every job it runs.

A job's compile is known by its key: the image (its id and toolchain version), the compile's
command line (which holds the client's options), how its output is kept, and every file of the
job (name, executable bit, content). On a miss the job runs as it is, asking the launcher for
the compile's artifacts, which it sends after a clean compile and before the program starts; they
are kept with the compile's record. On a hit the job runs in a fresh sandbox without its compile
step, the kept files added to its own, and its compile stage is replayed from the record: clients
see the compile they saw the first time, output and figures. Jobs of one program that arrive
while it compiles (a Judge0 batch of one source) wait for that compile instead of repeating it.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import replace
from pathlib import Path

from runakode import metrics
from runakode.config import Settings
from runakode.models import Status
from runakode.sandboxes.base import (
    Artifacts,
    Finished,
    Output,
    Phase,
    PhaseEnded,
    PhaseResult,
    PhaseStarted,
    ProgramInput,
    Sandboxes,
    SandboxEvent,
    SandboxFile,
    SandboxJob,
    SandboxResult,
    Stream,
    final_result,
)
from runakode.sandboxes.compile_store import CachedCompile, CompileStore
from runakode.sandboxes.docker_api import image_id

log = logging.getLogger(__name__)

# The most one compile may keep: a job's files travel base64-encoded in a header the launcher
# caps at 64 MiB, with the client's own files beside them.
ARTIFACTS_MAX_BYTES = 16 << 20
# Changes whenever what a key stands for changes, so that older entries are never taken.
KEY_VERSION = 1

# An image's id, None when it cannot be known now (the job then runs uncached).
ImageId = Callable[[str], Awaitable[str | None]]


def compile_key(job: SandboxJob, toolchain: str) -> str:
    assert job.compile is not None
    step = job.compile
    described = {
        "version": KEY_VERSION,
        "toolchain": toolchain,
        "compile": [list(step.argv), step.merge_output, step.output_max_bytes],
        "artifacts": list(step.artifacts),
        "files": sorted(
            [file.name, file.executable, hashlib.sha256(file.content).hexdigest()]
            for file in job.files
        ),
    }
    return hashlib.sha256(json.dumps(described).encode("utf-8")).hexdigest()


def reusable(compiled: PhaseResult) -> bool:
    """A compile that ended cleanly on its own: nothing about it depended on a limit."""
    return not (
        compiled.failed
        or compiled.signal is not None
        or compiled.memory_exceeded
        or compiled.output_limit
    )


def with_artifacts(
    files: tuple[SandboxFile, ...], artifacts: tuple[SandboxFile, ...]
) -> tuple[SandboxFile, ...]:
    """The job's files as its compile left them: an artifact replaces a file of its name."""
    produced = {artifact.name for artifact in artifacts}
    return (*(file for file in files if file.name not in produced), *artifacts)


class CompileCache:
    """Sandboxes (the pool's interface) that compile each program once."""

    def __init__(
        self,
        inner: Sandboxes,
        store: CompileStore,
        image_id: ImageId,
        languages: Mapping[str, str] | None = None,
    ) -> None:
        self._inner = inner
        self._store = store
        self._image_id = image_id
        # Image -> language, for the metrics.
        self._languages = dict(languages or {})
        self._toolchains: dict[str, str] = {}
        # Keys being compiled by a job of this process, set once its compile has ended.
        self._compiling: dict[str, asyncio.Event] = {}
        for language in self._languages.values():
            for result in ("hit", "miss"):
                metrics.COMPILE_CACHE.labels(language, result)

    async def start(self) -> None:
        await self._inner.start()

    async def health(self) -> str | None:
        return await self._inner.health()

    def image_present(self, image: str) -> bool:
        return self._inner.image_present(image)

    async def image_version(self, image: str) -> str | None:
        return await self._inner.image_version(image)

    async def close(self) -> None:
        await self._inner.close()

    async def run(self, job: SandboxJob) -> SandboxResult:
        return await final_result(self.stream(job))

    async def stream(
        self, job: SandboxJob, controls: ProgramInput | None = None
    ) -> AsyncGenerator[SandboxEvent, None]:
        key = await self._key(job)
        if key is None:
            events = self._inner.stream(job, controls)
        elif (entry := await self._cached(key, job)) is not None:
            self._count(job, "hit")
            events = self._replay(job, entry, controls)
        else:
            self._count(job, "miss")
            events = self._compile(job, key, controls)
        async with contextlib.aclosing(events) as stream:
            async for event in stream:
                if not isinstance(event, Artifacts):
                    yield event

    async def _key(self, job: SandboxJob) -> str | None:
        if job.compile is None or not job.compile.artifacts:
            return None
        image = job.spec.image
        if image not in self._toolchains:
            identity = await self._image_id(image)
            version = await self._inner.image_version(image) if identity else None
            if identity is None or version is None:
                return None
            self._toolchains[image] = f"{image}\n{identity}\n{version}"
        return compile_key(job, self._toolchains[image])

    async def _cached(self, key: str, job: SandboxJob) -> CachedCompile | None:
        """The kept compile, waiting first for a job of this process compiling it now."""
        entry = await self._load(key, job)
        if entry is None and (compiling := self._compiling.get(key)) is not None:
            await compiling.wait()
            entry = await self._load(key, job)
        return entry

    async def _load(self, key: str, job: SandboxJob) -> CachedCompile | None:
        assert job.compile is not None
        try:
            entry = await asyncio.to_thread(self._store.load, key)
        except OSError as exc:
            log.warning("compile cache unreadable: %s", exc)
            return None
        # A compile that took longer than this job allows would have timed out here.
        if entry is None or entry.compile.wall_time_ms > job.compile.timeout_s * 1000:
            return None
        return entry

    async def _replay(
        self, job: SandboxJob, entry: CachedCompile, controls: ProgramInput | None
    ) -> AsyncGenerator[SandboxEvent, None]:
        compiled = entry.compile
        yield PhaseStarted(Phase.COMPILE)
        for stream, data in ((Stream.STDOUT, compiled.stdout), (Stream.STDERR, compiled.stderr)):
            if data:
                yield Output(Phase.COMPILE, stream, data)
        yield PhaseEnded(Phase.COMPILE, compiled)
        run_only = replace(job, compile=None, files=with_artifacts(job.files, entry.files))
        async with contextlib.aclosing(self._inner.stream(run_only, controls)) as events:
            async for event in events:
                if isinstance(event, Finished) and event.result.status != Status.INTERNAL_ERROR:
                    event = Finished(replace(event.result, compile=compiled))
                yield event

    async def _compile(
        self, job: SandboxJob, key: str, controls: ProgramInput | None
    ) -> AsyncGenerator[SandboxEvent, None]:
        compiling = None
        if key not in self._compiling:
            compiling = self._compiling[key] = asyncio.Event()
        compiled: PhaseResult | None = None
        try:
            asked = replace(job, artifacts_max_bytes=ARTIFACTS_MAX_BYTES)
            async with contextlib.aclosing(self._inner.stream(asked, controls)) as events:
                async for event in events:
                    settled = False
                    if isinstance(event, PhaseEnded) and event.phase == Phase.COMPILE:
                        compiled = event.result
                        settled = not reusable(compiled)
                    elif isinstance(event, Artifacts):
                        if compiled is not None and reusable(compiled):
                            await self._keep(key, compiled, event.files)
                        settled = True
                    if settled and compiling is not None:
                        # Kept, or nothing to keep: the jobs waiting for it may go on.
                        self._finished_compiling(key, compiling)
                        compiling = None
                    yield event
        finally:
            if compiling is not None:
                self._finished_compiling(key, compiling)

    def _finished_compiling(self, key: str, compiling: asyncio.Event) -> None:
        del self._compiling[key]
        compiling.set()

    async def _keep(self, key: str, compiled: PhaseResult, files: tuple[SandboxFile, ...]) -> None:
        try:
            await asyncio.to_thread(self._store.store, key, compiled, files)
        except OSError as exc:
            log.warning("could not keep a compiled program: %s", exc)

    def _count(self, job: SandboxJob, result: str) -> None:
        language = self._languages.get(job.spec.image, job.spec.image)
        metrics.COMPILE_CACHE.labels(language, result).inc()


def with_compile_cache(settings: Settings, sandboxes: Sandboxes) -> Sandboxes:
    """The worker's sandboxes, behind the compile cache when it is on."""
    config = settings.compile_cache
    if not config.enabled:
        return sandboxes
    store = CompileStore(Path(config.directory), config.max_bytes, config.max_age_s)
    languages = {settings.sandbox_images[name]: name for name in settings.supported_languages}

    async def identify(image: str) -> str | None:
        return await image_id(settings.docker_socket, image)

    return CompileCache(sandboxes, store, identify, languages)
