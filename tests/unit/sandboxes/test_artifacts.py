"""A compile's artifacts on the launcher's stream: asked for in the job, taken only between a
clean compile's report and the run, and only when bytes and manifest agree."""

import json

import pytest

from runakode.sandboxes.artifacts import parse_manifest
from runakode.sandboxes.base import (
    CompileStep,
    RunLimits,
    SandboxFile,
    SandboxJob,
    SandboxSpec,
)
from runakode.sandboxes.launcher_protocol import (
    ARTIFACT_DATA,
    ARTIFACTS_DONE,
    COMPILE_DONE,
    FRAME,
    HEADER,
    RUN_DONE,
    RUN_STDOUT,
    LauncherOutput,
    encode_job,
)

TOKEN = bytes(range(16))
REPORT = {
    "exit_code": 0,
    "signal": None,
    "time_ms": 5,
    "time_limit": None,
    "output_limit": False,
    "truncated": False,
}


def frame(kind: bytes, payload: bytes) -> bytes:
    return TOKEN + FRAME.pack(kind, len(payload)) + payload


def compiled(exit_code: int = 0) -> bytes:
    return frame(COMPILE_DONE, json.dumps({**REPORT, "exit_code": exit_code}).encode())


def manifest(*files: tuple[str, int, bool]) -> bytes:
    entries = [{"name": name, "size": size, "executable": x} for name, size, x in files]
    return frame(ARTIFACTS_DONE, json.dumps({"files": entries}).encode())


def job(*, artifacts: tuple[str, ...] = ("main",), max_bytes: int = 1024) -> SandboxJob:
    return SandboxJob(
        job_id="j",
        spec=SandboxSpec("c-runner", 1 << 28, 1.0),
        files=(SandboxFile("main.c", b"int main(){}"),),
        run_argv=("./main",),
        limits=RunLimits(wall_time_s=1.0, output_max_bytes=64),
        stdin=b"",
        merge_output=False,
        compile=CompileStep(("gcc", "main.c"), 5.0, 64, artifacts=artifacts),
        artifacts_max_bytes=max_bytes,
    )


def header_of(the_job: SandboxJob) -> dict[str, object]:
    encoded = encode_job(the_job, TOKEN)
    return json.loads(encoded[HEADER.size :])  # type: ignore[no-any-return]


def test_the_job_asks_for_its_compiles_artifacts_only_when_the_cache_wants_them() -> None:
    assert header_of(job())["collect"] == {"patterns": ["main"], "max_bytes": 1024}
    assert "collect" not in header_of(job(max_bytes=0))
    assert "collect" not in header_of(job(artifacts=()))


def test_artifacts_between_a_clean_compile_and_the_run_are_taken() -> None:
    output = LauncherOutput.for_job(job(), TOKEN)
    frames = output.feed(
        compiled()
        + frame(ARTIFACT_DATA, b"\x7fEL")
        + frame(ARTIFACT_DATA, b"F")
        + frame(ARTIFACT_DATA, b"cls")
        + manifest(("main", 4, True), ("pkg/A.class", 3, False))
        + frame(RUN_STDOUT, b"hi")
    )
    assert not output.malformed
    assert output.artifacts.files == (
        SandboxFile("main", b"\x7fELF", True),
        SandboxFile("pkg/A.class", b"cls", False),
    )
    assert [kind for kind, _ in frames][-2:] == [ARTIFACTS_DONE, RUN_STDOUT]


@pytest.mark.parametrize(
    ("max_bytes", "stream"),
    [
        # Not asked for.
        (0, compiled() + frame(ARTIFACT_DATA, b"x")),
        (0, compiled() + manifest()),
        # After a failed compile there is nothing to collect.
        (1024, compiled(exit_code=1) + frame(ARTIFACT_DATA, b"x")),
        # Once the run has begun, nothing more is taken: the program may be writing.
        (1024, compiled() + frame(RUN_STDOUT, b"hi") + frame(ARTIFACT_DATA, b"x")),
        (1024, compiled() + frame(RUN_STDOUT, b"hi") + manifest(("main", 0, True))),
        (1024, compiled() + frame(RUN_DONE, json.dumps(REPORT).encode()) + manifest()),
        # One manifest per job.
        (1024, compiled() + manifest() + frame(ARTIFACT_DATA, b"x")),
    ],
)
def test_artifact_frames_out_of_their_place_are_malformed(max_bytes: int, stream: bytes) -> None:
    output = LauncherOutput.for_job(job(max_bytes=max_bytes), TOKEN)
    output.feed(stream)
    assert output.malformed
    assert output.artifacts.files is None


def test_artifacts_over_the_bound_are_not_kept() -> None:
    output = LauncherOutput.for_job(job(max_bytes=4), TOKEN)
    output.feed(
        compiled()
        + frame(ARTIFACT_DATA, b"1234")
        + frame(ARTIFACT_DATA, b"5")
        + manifest(("main", 5, True))
    )
    assert not output.malformed
    assert output.artifacts.files is None


@pytest.mark.parametrize(
    "files",
    [
        [("main", 3, True)],  # fewer bytes than sent
        [("main", 5, True)],  # more
        [("../main", 4, True)],
        [("/tmp/main", 4, True)],
        [("main", 2, True), ("main", 2, True)],
        [("main", 4, "yes")],
        [("main", -1, True), ("x", 5, True)],
        [],
    ],
)
def test_a_manifest_that_does_not_match_its_bytes_keeps_nothing(
    files: list[tuple[str, object, object]],
) -> None:
    entries = [{"name": name, "size": size, "executable": x} for name, size, x in files]
    assert parse_manifest(json.dumps({"files": entries}).encode(), b"\x7fELF") is None


@pytest.mark.parametrize("payload", [b"", b"not json", b"[]", b'{"files": 3}', b"\xff"])
def test_a_garbage_manifest_keeps_nothing(payload: bytes) -> None:
    assert parse_manifest(payload, b"") is None
