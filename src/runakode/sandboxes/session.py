"""One job's conversation with the launcher in its sandbox, written once for every backend.

A backend supplies the transport (bytes to the launcher's stdin, the launcher's stdout as it
arrives) and its post-mortem (how the sandbox ended, whether it ran out of memory); this module
does the rest: the token, the job, the live controls, the host's deadline, the events, and the
verdict on how the job ended: the launcher reported to the end, the sandbox died before taking
the job (SandboxUnavailable: another sandbox may take it), or it ended abnormally.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from runakode.errors import SandboxUnavailable
from runakode.sandboxes import hardening
from runakode.sandboxes.base import (
    Artifacts,
    Finished,
    Output,
    Phase,
    PhaseEnded,
    PhaseStarted,
    ProgramInput,
    SandboxEvent,
    SandboxJob,
    Stream,
)
from runakode.sandboxes.launcher_protocol import (
    ACCEPTED,
    ARTIFACTS_DONE,
    COMPILE_DONE,
    COMPILE_STDERR,
    COMPILE_STDOUT,
    RUN_DONE,
    RUN_STDERR,
    RUN_STDOUT,
    LauncherOutput,
    encode_control,
    encode_job,
    new_token,
)
from runakode.sandboxes.results import (
    abnormal_result,
    compile_result,
    finished_result,
    run_result,
)

log = logging.getLogger(__name__)

OUTPUT_KINDS = {
    COMPILE_STDOUT: (Phase.COMPILE, Stream.STDOUT),
    COMPILE_STDERR: (Phase.COMPILE, Stream.STDERR),
    RUN_STDOUT: (Phase.RUN, Stream.STDOUT),
    RUN_STDERR: (Phase.RUN, Stream.STDERR),
}


class Transport(Protocol):
    """The byte pipe to one sandbox's launcher."""

    async def send(self, data: bytes) -> None:
        """Write to the launcher's stdin; ConnectionError once the sandbox is gone."""

    async def end_input(self) -> None:
        """Close the launcher's stdin (a job that is not live needs nothing more)."""

    def receive(self) -> AsyncGenerator[bytes, None]:
        """The launcher's stdout as it arrives, until the sandbox closes it."""
        ...


@dataclass(frozen=True)
class Ending:
    """How a sandbox that did not report to the end went, from its backend's own records."""

    exit_code: int
    oom_killed: bool


# Called once the launcher has stopped answering: stop the sandbox if `killed` (the host's
# deadline passed), wait for it to end, and tell how it ended.
PostMortem = Callable[[bool], Awaitable[Ending]]


async def launcher_session(
    transport: Transport,
    job: SandboxJob,
    controls: ProgramInput | None,
    post_mortem: PostMortem,
) -> AsyncGenerator[SandboxEvent, None]:
    """The job's events, ending with Finished; SandboxUnavailable (before any event) when the
    sandbox ended without taking the job."""
    token = new_token()
    output = LauncherOutput.for_job(job, token)
    first_phase = phase = Phase.COMPILE if job.compile is not None else Phase.RUN
    started = time.monotonic()
    host_timeout = False
    forwarder: asyncio.Task[None] | None = None
    try:
        try:
            await transport.send(encode_job(job, token))
            if controls is None:
                await transport.end_input()
            else:
                forwarder = asyncio.create_task(_forward(controls, transport))
            async with asyncio.timeout(job.deadline_s + hardening.BOOT_ALLOWANCE_S):
                async for chunk in transport.receive():
                    for kind, payload in output.feed(chunk):
                        for event in _events(kind, payload, output, first_phase):
                            if isinstance(event, PhaseStarted):
                                phase = event.phase
                            yield event
                    if output.finished:
                        break
        except TimeoutError:
            host_timeout = True
        except ConnectionError:
            pass  # the sandbox went away while the job was being sent: decided below
    finally:
        if forwarder is not None:
            forwarder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forwarder
    if output.finished:
        yield Finished(finished_result(output))
        return
    if not output.accepted and not host_timeout:
        raise SandboxUnavailable("the sandbox ended before it took the job")
    elapsed_ms = int((time.monotonic() - started) * 1000)
    ending = await post_mortem(host_timeout)
    result = abnormal_result(output, ending.oom_killed, ending.exit_code, host_timeout, elapsed_ms)
    assert result.run is not None
    yield PhaseEnded(phase, result.run, result.note)
    yield Finished(result)


def _events(
    kind: bytes, payload: bytes, output: LauncherOutput, first_phase: Phase
) -> list[SandboxEvent]:
    if where := OUTPUT_KINDS.get(kind):
        return [Output(*where, payload)] if payload else []
    if kind == ACCEPTED:
        return [PhaseStarted(first_phase)]
    if kind == COMPILE_DONE and (compiled := compile_result(output)) is not None:
        events: list[SandboxEvent] = [PhaseEnded(Phase.COMPILE, compiled)]
        if not compiled.failed:
            events.append(PhaseStarted(Phase.RUN))
        return events
    if kind == ARTIFACTS_DONE and (files := output.artifacts.files) is not None:
        return [Artifacts(files)]
    if kind == RUN_DONE and (ran := run_result(output)) is not None:
        return [PhaseEnded(Phase.RUN, ran)]
    return []


async def _forward(controls: ProgramInput, transport: Transport) -> None:
    """The client's stdin and signals to the launcher, in order, until the session ends."""
    while True:
        control = await controls.get()
        try:
            await transport.send(encode_control(control))
        except ConnectionError:
            return
