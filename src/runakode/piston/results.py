"""A run's events in Piston's words: the stage objects of /api/v2/execute and the WebSocket's
exit frames (`api/src/job.js` safe_call, isolate's statuses and messages)."""

from collections.abc import Sequence
from typing import Any

from runakode.models import Status
from runakode.piston.runtimes import PistonRuntime
from runakode.piston.semver import version_from_text
from runakode.streaming import (
    OutputChunk,
    SessionEvent,
    SessionFinished,
    SessionStarted,
    Stage,
    StageEnded,
    StreamName,
    signal_name,
)

INTERNAL_ERROR = "the service failed to run the program"
# isolate kills what goes over a limit: Piston reports SIGKILL for these statuses.
KILLED_STATUSES = ("TO", "OL", "EL")


def piston_status(ended: StageEnded) -> str | None:
    """RE, SG, TO, OL, EL or XX; None for a stage that exited 0."""
    if ended.status == Status.INTERNAL_ERROR:
        return "XX"
    if ended.time_limit is not None or ended.status == Status.TIMEOUT:
        return "TO"
    if ended.output_limit == StreamName.STDERR:
        return "EL"
    if ended.output_limit == StreamName.STDOUT or ended.status == Status.OUTPUT_LIMIT:
        return "OL"
    if ended.signal is not None or ended.memory_exceeded or ended.status == Status.MEMORY_LIMIT:
        return "SG"
    if ended.exit_code:
        return "RE"
    return None


def exit_of(ended: StageEnded) -> tuple[int | None, str | None]:
    """The stage's (code, signal): exactly one is set, as Piston reports them."""
    status = piston_status(ended)
    if status == "XX":
        return None, None
    if status in KILLED_STATUSES or (status == "SG" and ended.signal is None):
        return None, "SIGKILL"
    if ended.signal is not None:
        return None, signal_name(ended.signal)
    return ended.exit_code or 0, None


def message_of(ended: StageEnded, failure: str | None = None) -> str | None:
    status = piston_status(ended)
    code, _ = exit_of(ended)
    if status == "XX":
        return ended.message or failure or INTERNAL_ERROR
    if status == "TO":
        return (
            "Time limit exceeded"
            if ended.time_limit == "cpu"
            else ("Time limit exceeded (wall clock)")
        )
    if status == "OL":
        return "stdout length exceeded"
    if status == "EL":
        return "stderr length exceeded"
    if status == "SG":
        if ended.memory_exceeded or ended.status == Status.MEMORY_LIMIT:
            return "Memory limit exceeded"
        return f"Caught fatal signal {ended.signal or 9}"
    if status == "RE":
        return f"Exited with error status {code}"
    return None


def render_stage(
    ended: StageEnded | None, chunks: Sequence[OutputChunk], failure: str | None = None
) -> dict[str, Any]:
    """One stage object; a stage that never ended (the service failed) is XX."""
    stage: dict[str, Any] = {
        "stdout": "".join(c.data for c in chunks if c.stream == StreamName.STDOUT),
        "stderr": "".join(c.data for c in chunks if c.stream == StreamName.STDERR),
        # Both streams in the order the program wrote them.
        "output": "".join(c.data for c in chunks),
    }
    if ended is None:
        return {
            **stage,
            "code": None,
            "signal": None,
            "message": failure or INTERNAL_ERROR,
            "status": "XX",
            "cpu_time": 0,
            "wall_time": 0,
            "memory": 0,
        }
    code, signal = exit_of(ended)
    return {
        **stage,
        "code": code,
        "signal": signal,
        "message": message_of(ended, failure),
        "status": piston_status(ended),
        "cpu_time": ended.cpu_time_ms or 0,
        "wall_time": ended.wall_time_ms,
        # Real bytes (Piston's are KB x 1000).
        "memory": (ended.memory_kb or 0) * 1024,
    }


def compile_failed(ended: StageEnded) -> bool:
    """Piston runs nothing after a compile stage whose code is not 0."""
    return exit_of(ended)[0] != 0


def reported_version(runtime: PistonRuntime, events: Sequence[SessionEvent]) -> str:
    """The version the worker that ran it announced, else the one the request matched."""
    for event in events:
        if isinstance(event, SessionStarted) and event.version:
            return version_from_text(event.version) or runtime.version
    return runtime.version


def render_execute(runtime: PistonRuntime, events: Sequence[SessionEvent]) -> dict[str, Any]:
    """POST /api/v2/execute's answer from a finished session's events."""
    ends: dict[Stage, StageEnded] = {}
    chunks: dict[Stage, list[OutputChunk]] = {Stage.COMPILE: [], Stage.RUN: []}
    failure: str | None = None
    for event in events:
        if isinstance(event, OutputChunk):
            chunks[event.stage].append(event)
        elif isinstance(event, StageEnded):
            ends[event.stage] = event
        elif isinstance(event, SessionFinished) and event.result.status == Status.INTERNAL_ERROR:
            failure = event.result.stderr or INTERNAL_ERROR
    answer: dict[str, Any] = {
        "language": runtime.language,
        "version": reported_version(runtime, events),
    }
    compiled = ends.get(Stage.COMPILE)
    if compiled is not None:
        answer["compile"] = render_stage(compiled, chunks[Stage.COMPILE], failure)
    ran = ends.get(Stage.RUN)
    if ran is not None:
        answer["run"] = render_stage(ran, chunks[Stage.RUN], failure)
    elif compiled is not None and compile_failed(compiled):
        # As Piston: the compile stage stands in for the run that never started, so clients
        # that print run.output show the compiler's errors.
        answer["run"] = answer["compile"]
    else:
        answer["run"] = render_stage(None, chunks[Stage.RUN], failure)
    return answer


def exit_frame(ended: StageEnded) -> dict[str, Any]:
    code, signal = exit_of(ended)
    return {"type": "exit", "stage": ended.stage.value, "code": code, "signal": signal}
