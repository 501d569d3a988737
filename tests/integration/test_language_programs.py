"""Every language, through every API family: hello world, stdin echo, a runtime error with its
exit code, a compile error where it compiles, a two-file program and a classic algorithm, as
written in tests/integration/languages/<language>.toml.

All runs are sent at once when the module starts (the service runs six at a time), and each
test then checks one answer: the per-language suite takes the time of
its runs, not of its runs one after the other.
"""

import base64
import io
import tomllib
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import ServiceProcess, free_port, running, service_config

from runakode.judge0.languages import JUDGE0_LANGUAGES
from runakode.languages import LANGUAGES
from runakode.piston.runtimes import PISTON_NAMES
from runakode.playground import HELLO_WORLD

PROGRAMS_DIR = Path(__file__).parent / "languages"
ECHO_STDIN = "runakode\n1 2 3\nlast line\n"
# Each program is sent through the native API; these also through Judge0 and Piston (their
# language ids and names, stdin, and extra files as a zip or as Piston's files).
ALSO_THROUGH_PEERS = ("two_files", "program")
# Runs sent at once; the service runs six at a time (much of a run is waiting under gVisor:
# two at a time left the cores half idle).
CLIENTS = 10
ANSWER_TIMEOUT_S = 600.0

PROGRAMS: dict[str, dict[str, Any]] = {
    # Each language's hello world is the one the playground offers.
    path.stem: {"hello": {"source": HELLO_WORLD[path.stem]}, **tomllib.loads(path.read_text())}
    for path in sorted(PROGRAMS_DIR.glob("*.toml"))
}
JUDGE0_IDS = {
    name: next(entry.id for entry in JUDGE0_LANGUAGES.values() if entry.runtime == name)
    for name in LANGUAGES
    if any(entry.runtime == name for entry in JUDGE0_LANGUAGES.values())
}


@dataclass(frozen=True)
class Run:
    language: str
    kind: str
    api: str

    def __str__(self) -> str:
        return f"{self.language}-{self.kind}-{self.api}"

    @property
    def program(self) -> dict[str, Any]:
        return dict(PROGRAMS[self.language][self.kind])

    @property
    def stdin(self) -> str:
        return ECHO_STDIN if self.kind == "echo" else str(self.program.get("stdin", ""))

    @property
    def expected_stdout(self) -> str | None:
        if self.kind == "hello":
            return "Hello, World!\n"
        if self.kind == "echo":
            return ECHO_STDIN
        stdout = self.program.get("stdout")
        return None if stdout is None else str(stdout)


def all_runs() -> list[Run]:
    runs = []
    for language, programs in PROGRAMS.items():
        for kind in programs:
            runs.append(Run(language, kind, "native"))
            if kind in ALSO_THROUGH_PEERS:
                if language in JUDGE0_IDS:
                    runs.append(Run(language, kind, "judge0"))
                runs.append(Run(language, kind, "piston"))
    return runs


RUNS = all_runs()


def native(client: httpx.Client, run: Run) -> dict[str, Any]:
    program = run.program
    body = {
        "language": run.language,
        "source_code": program["source"],
        "stdin": run.stdin,
        "files": [{"name": n, "content": c} for n, c in program.get("files", {}).items()],
    }
    response = client.post("/api", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def judge0(client: httpx.Client, run: Run) -> dict[str, Any]:
    program = run.program
    body: dict[str, Any] = {
        "language_id": JUDGE0_IDS[run.language],
        "source_code": _b64(program["source"]),
        "stdin": _b64(run.stdin),
        # Judge0's most: a JVM or BEAM starting under gVisor on a loaded two-core host spends
        # more CPU time than Judge0's default 5 s.
        "cpu_time_limit": 15,
        "wall_time_limit": 20,
    }
    if files := program.get("files"):
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            for name, content in files.items():
                zipped.writestr(name, content)
        body["additional_files"] = base64.b64encode(archive.getvalue()).decode()
    response = client.post("/submissions?base64_encoded=true&wait=true&fields=*", json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    for field in ("stdout", "stderr", "compile_output"):
        if answer.get(field) is not None:
            answer[field] = base64.b64decode(answer[field]).decode()
    return answer


def piston(client: httpx.Client, run: Run) -> dict[str, Any]:
    program = run.program
    files = [{"content": program["source"]}]
    files += [{"name": n, "content": c} for n, c in program.get("files", {}).items()]
    body = {
        "language": PISTON_NAMES[run.language].language,
        "version": "*",
        "files": files,
        "stdin": run.stdin,
    }
    response = client.post("/api/v2/execute", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


SENDERS = {"native": native, "judge0": judge0, "piston": piston}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def polyglot(workdir: Path) -> Iterator[ServiceProcess]:
    config = service_config(
        port=free_port(),
        supportedLanguages=list(LANGUAGES),
        maxWorkers=6,
        jobTimeout="20s",
        jobMemory="1024m",
        outputMaxBytes=65536,
        apiTimeout="300s",
        judge0={"maxQueueSize": 1000},
    )
    with running("runakode", config, workdir) as service:
        service.wait_healthy()
        yield service


@pytest.fixture(scope="module")
def answers(polyglot: ServiceProcess) -> Iterator[dict[Run, Future[dict[str, Any]]]]:
    with (
        httpx.Client(base_url=polyglot.url, timeout=ANSWER_TIMEOUT_S) as client,
        ThreadPoolExecutor(CLIENTS) as pool,
    ):
        # Compiled languages first: they take longest, the interpreted ones fill the gaps.
        order = sorted(RUNS, key=lambda run: LANGUAGES[run.language].compile is None)
        yield {run: pool.submit(SENDERS[run.api], client, run) for run in order}


# What a language cannot show, and why.
CANNOT = {
    # The program is its own output.
    "plaintext": {"echo", "two_files", "runtime_error"},
    # No stderr, and no exit status of its own.
    "brainfuck": {"runtime_error"},
}


def test_every_language_has_its_programs() -> None:
    assert set(PROGRAMS) == set(LANGUAGES)
    for language, programs in PROGRAMS.items():
        wanted = {"hello", "echo", "runtime_error", "two_files", "program"}
        if LANGUAGES[language].compile is not None:
            wanted.add("compile_error")
        assert set(programs) == wanted - CANNOT.get(language, set()), language


@pytest.mark.parametrize("run", RUNS, ids=str)
def test_program(
    answers: dict[Run, Future[dict[str, Any]]], run: Run, polyglot: ServiceProcess
) -> None:
    answer = answers[run].result(timeout=ANSWER_TIMEOUT_S)
    try:
        if run.api == "native":
            check_native(run, answer)
        elif run.api == "judge0":
            check_judge0(run, answer)
        else:
            check_piston(run, answer)
    except AssertionError as failure:
        # What the service said went wrong, for a failure seen only in CI.
        problems = [
            line
            for line in polyglot.logs().splitlines()
            if '"level": "error"' in line or '"level": "warning"' in line
        ]
        raise AssertionError("service warnings and errors:\n" + "\n".join(problems[-30:])) from (
            failure
        )


def check_native(run: Run, answer: dict[str, Any]) -> None:
    assert answer["language"] == run.language and answer["version"], answer
    if run.kind == "compile_error":
        assert answer["status"] == "compile_error", answer
        compiled = answer["compile"]
        assert compiled["exit_code"] != 0 and (compiled["stderr"] or compiled["stdout"]), answer
    elif run.kind == "runtime_error":
        assert answer["status"] == "runtime_error", answer
        assert answer["exit_code"] == run.program["exit_code"], answer
        assert "boom" in answer["stderr"], answer
    else:
        assert (answer["status"], answer["stdout"]) == ("ok", run.expected_stdout), answer
        assert answer["exit_code"] == 0


def check_judge0(run: Run, answer: dict[str, Any]) -> None:
    assert answer["status"] == {"id": 3, "description": "Accepted"}, answer
    assert answer["stdout"] == run.expected_stdout, answer
    assert answer["language"]["id"] == JUDGE0_IDS[run.language]


def check_piston(run: Run, answer: dict[str, Any]) -> None:
    assert answer["language"] == PISTON_NAMES[run.language].language, answer
    assert answer["run"]["code"] == 0 and answer["run"]["stdout"] == run.expected_stdout, answer
    if LANGUAGES[run.language].compile is not None and "compile" in answer:
        assert answer["compile"]["code"] == 0, answer


def test_listings_name_every_language_with_its_version(polyglot: ServiceProcess) -> None:
    native_listing = httpx.get(f"{polyglot.url}/api/languages", timeout=30).json()
    assert {entry["name"] for entry in native_listing} == set(LANGUAGES)
    assert all(entry["available"] and entry["version"] for entry in native_listing)

    judge0_ids = {entry["id"] for entry in httpx.get(f"{polyglot.url}/languages").json()}
    assert judge0_ids == set(JUDGE0_LANGUAGES)

    runtimes = httpx.get(f"{polyglot.url}/api/v2/runtimes").json()
    assert {rt["language"] for rt in runtimes} == {p.language for p in PISTON_NAMES.values()}
    assert all(rt["version"] != "0.0.0" for rt in runtimes), runtimes


def test_python_has_numpy_and_pandas(polyglot: ServiceProcess) -> None:
    code = (
        "import numpy as np, pandas as pd\n"
        "frame = pd.DataFrame({'x': np.arange(1, 5)})\n"
        "print(int(frame['x'].sum()), round(float(np.linalg.det(np.eye(3) * 2)), 6))\n"
    )
    answer = httpx.post(
        f"{polyglot.url}/api", json={"language": "python", "source_code": code}, timeout=120
    ).json()
    assert (answer["status"], answer["stdout"]) == ("ok", "10 8.0\n"), answer
