"""The launcher session, written once for every backend, against a scripted transport."""

import asyncio
import json
from collections.abc import AsyncGenerator
from dataclasses import replace

import pytest

from runakode.errors import SandboxUnavailable
from runakode.models import Status
from runakode.sandboxes import hardening
from runakode.sandboxes.base import (
    Artifacts,
    CloseStdin,
    CompileStep,
    Finished,
    Output,
    Phase,
    PhaseEnded,
    PhaseStarted,
    RunLimits,
    SandboxEvent,
    SandboxFile,
    SandboxJob,
    SandboxSpec,
    Signal,
    Stream,
    WriteStdin,
    program_input,
)
from runakode.sandboxes.launcher_protocol import (
    ACCEPTED,
    ARTIFACT_DATA,
    ARTIFACTS_DONE,
    COMPILE_DONE,
    COMPILE_STDERR,
    FRAME,
    HEADER,
    RUN_DONE,
    RUN_STDOUT,
    encode_control,
)
from runakode.sandboxes.session import Ending, launcher_session


def job(*, compiled: bool = False, interactive: bool = False, wall_s: float = 1.0) -> SandboxJob:
    return SandboxJob(
        job_id="j",
        spec=SandboxSpec("img", 1 << 28, 1.0),
        files=(),
        run_argv=("prog",),
        limits=RunLimits(wall_time_s=wall_s, output_max_bytes=8),
        stdin=b"",
        merge_output=False,
        compile=CompileStep(("cc",), 1.0, 1024) if compiled else None,
        interactive=interactive,
    )


def report(exit_code: int = 0, **extra: object) -> bytes:
    fields = {"exit_code": exit_code, "signal": None, "time_ms": 5, "output_limit": False}
    return json.dumps({**fields, "truncated": False, "time_limit": None, **extra}).encode()


class ScriptedLauncher:
    """Answers the job with frames made with the token it finds in the job, as the launcher."""

    def __init__(self, *frames: tuple[bytes, bytes], hang: bool = False) -> None:
        self.frames = frames
        self.hang = hang
        self.sent = bytearray()
        self.input_ended = False
        self._job = asyncio.Event()

    async def send(self, data: bytes) -> None:
        self.sent += data
        self._job.set()

    async def end_input(self) -> None:
        self.input_ended = True

    async def receive(self) -> AsyncGenerator[bytes, None]:
        await self._job.wait()
        (size,) = HEADER.unpack_from(self.sent)
        token = bytes.fromhex(json.loads(self.sent[HEADER.size : HEADER.size + size])["token"])
        for kind, payload in self.frames:
            # Split in two, as a pipe may deliver it.
            frame = token + FRAME.pack(kind, len(payload)) + payload
            yield frame[:7]
            yield frame[7:]
        if self.hang:
            await asyncio.Event().wait()


class PostMortem:
    def __init__(self, ending: Ending) -> None:
        self.ending = ending
        self.calls: list[bool] = []

    async def __call__(self, killed: bool) -> Ending:
        self.calls.append(killed)
        return self.ending


async def events_of(
    launcher: ScriptedLauncher, the_job: SandboxJob, post_mortem: PostMortem | None = None
) -> list[SandboxEvent]:
    post_mortem = post_mortem or PostMortem(Ending(0, False))
    return [event async for event in launcher_session(launcher, the_job, None, post_mortem)]


async def test_a_run_streams_its_output_then_its_end_then_the_result() -> None:
    launcher = ScriptedLauncher(
        (ACCEPTED, b""), (RUN_STDOUT, b"hello "), (RUN_STDOUT, b"world\n"), (RUN_DONE, report())
    )
    events = await events_of(launcher, job())
    assert launcher.input_ended
    assert events[:3] == [
        PhaseStarted(Phase.RUN),
        Output(Phase.RUN, Stream.STDOUT, b"hello "),
        # Only what fits the cap (8 bytes) is streamed, as it is kept.
        Output(Phase.RUN, Stream.STDOUT, b"wo"),
    ]
    assert isinstance(events[3], PhaseEnded) and events[3].result.exit_code == 0
    assert isinstance(events[4], Finished) and events[4].result.status == Status.OK
    assert len(events) == 5


async def test_a_failed_compile_ends_the_job_without_a_run() -> None:
    launcher = ScriptedLauncher(
        (ACCEPTED, b""), (COMPILE_STDERR, b"error"), (COMPILE_DONE, report(1))
    )
    events = await events_of(launcher, job(compiled=True))
    assert events[0] == PhaseStarted(Phase.COMPILE)
    assert events[1] == Output(Phase.COMPILE, Stream.STDERR, b"error")
    assert isinstance(events[2], PhaseEnded) and events[2].phase == Phase.COMPILE
    assert isinstance(events[3], Finished) and events[3].result.status == Status.COMPILE_ERROR
    assert not any(e == PhaseStarted(Phase.RUN) for e in events)


async def test_a_compiled_run_starts_its_run_stage_after_compiling() -> None:
    launcher = ScriptedLauncher((ACCEPTED, b""), (COMPILE_DONE, report()), (RUN_DONE, report(3)))
    events = await events_of(launcher, job(compiled=True))
    phases = [(type(e).__name__, getattr(e, "phase", None)) for e in events]
    assert phases == [
        ("PhaseStarted", Phase.COMPILE),
        ("PhaseEnded", Phase.COMPILE),
        ("PhaseStarted", Phase.RUN),
        ("PhaseEnded", Phase.RUN),
        ("Finished", None),
    ]
    assert isinstance(events[-1], Finished)
    assert events[-1].result.status == Status.RUNTIME_ERROR


async def test_a_sandbox_that_never_took_the_job_is_unavailable() -> None:
    post_mortem = PostMortem(Ending(1, False))
    with pytest.raises(SandboxUnavailable):
        await events_of(ScriptedLauncher(), job(), post_mortem)
    assert post_mortem.calls == []


async def test_a_sandbox_that_died_mid_run_is_a_result_with_its_post_mortem() -> None:
    launcher = ScriptedLauncher((ACCEPTED, b""), (RUN_STDOUT, b"partial"))
    post_mortem = PostMortem(Ending(137, oom_killed=True))
    events = await events_of(launcher, job(), post_mortem)
    assert post_mortem.calls == [False]
    ended, finished = events[-2:]
    assert isinstance(ended, PhaseEnded) and ended.phase == Phase.RUN and ended.note
    assert isinstance(finished, Finished) and finished.result.status == Status.MEMORY_LIMIT


async def test_a_silent_sandbox_is_killed_at_the_host_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hardening, "BOOT_ALLOWANCE_S", 0.05)
    launcher = ScriptedLauncher((ACCEPTED, b""), hang=True)
    post_mortem = PostMortem(Ending(137, False))
    events = await events_of(launcher, job(wall_s=0.05), post_mortem)
    assert post_mortem.calls == [True]
    assert isinstance(events[-1], Finished) and events[-1].result.status == Status.TIMEOUT


async def test_live_controls_reach_the_launcher_in_order_and_stdin_stays_open() -> None:
    launcher = ScriptedLauncher((ACCEPTED, b""), hang=True)
    controls = program_input()
    session = launcher_session(
        launcher, job(interactive=True, wall_s=5), controls, PostMortem(Ending(0, False))
    )
    first = await anext(session)
    assert first == PhaseStarted(Phase.RUN)
    sent = [WriteStdin(b"abc"), Signal(2), CloseStdin()]
    for control in sent:
        await controls.put(control)
    expected = b"".join(encode_control(control) for control in sent)
    for _ in range(100):
        if launcher.sent.endswith(expected):
            break
        await asyncio.sleep(0.01)
    await session.aclose()
    assert launcher.sent.endswith(expected)
    assert not launcher.input_ended


async def test_a_clean_compiles_artifacts_come_as_an_event_before_the_run_ends() -> None:
    files = [{"name": "main", "size": 3, "executable": True}]
    launcher = ScriptedLauncher(
        (ACCEPTED, b""),
        (COMPILE_DONE, report()),
        (ARTIFACT_DATA, b"bin"),
        (ARTIFACTS_DONE, json.dumps({"files": files}).encode()),
        (RUN_DONE, report()),
    )
    asked = replace(job(compiled=True), artifacts_max_bytes=1024)
    assert asked.compile is not None
    asked = replace(asked, compile=replace(asked.compile, artifacts=("main",)))
    events = await events_of(launcher, asked)
    assert events[3] == Artifacts((SandboxFile("main", b"bin", executable=True),))
    assert [type(event).__name__ for event in events] == [
        "PhaseStarted",
        "PhaseEnded",
        "PhaseStarted",
        "Artifacts",
        "PhaseEnded",
        "Finished",
    ]
