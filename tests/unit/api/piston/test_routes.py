"""Piston's HTTP routes in process, with sessions that play scripted events (no services)."""

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from runakode.api import create_app
from runakode.config import Settings
from runakode.errors import BrokerUnavailable, QueueFull
from runakode.models import JobResult, Status
from runakode.streaming import SessionStarted, Stage, StreamName
from unit.api.helpers import versions_of
from unit.api.piston.fakes import FakeOpener, Hang, chunk, ended, finished, run_script, stage
from unit.fakes import ClientFor, FakeSubmit

LANGS = ["python", "c", "cpp", "javascript", "java"]
VERSIONS = {
    "python": "Python 3.11.2",
    "c": "gcc 12.2.0",
    "cpp": "g++ 12.2.0",
    "javascript": "node v18.19.0",
    "java": "openjdk 17.0.6",
}
HELLO = {"language": "python", "version": "3.x", "files": [{"content": "print('hi')"}]}


@pytest.fixture
def make_piston_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def make(**values: Any) -> Settings:
        config: dict[str, Any] = {
            "supportedLanguages": LANGS,
            "sandboxImages": {name: f"{name}-img" for name in LANGS},
            "jobTimeout": "10s",
            "compileTimeout": "10s",
            "jobMemory": "512m",
            "outputMaxBytes": 4096,
            "apiTimeout": "5s",
            "rateLimit": {"requestsPerSecond": 0, "burst": 0},
        }
        config.update(values)
        return make_settings(**config)

    return make


@pytest.fixture
def make_client(
    make_piston_settings: Callable[..., Settings], opener: FakeOpener, client_for: ClientFor
) -> Callable[..., httpx.AsyncClient]:
    def make(
        versions: dict[str, str | None] | None = None,
        raise_app_exceptions: bool = True,
        **values: Any,
    ) -> httpx.AsyncClient:
        app = create_app(
            make_piston_settings(**values),
            FakeSubmit(JobResult.internal_error("unused")),
            [],
            language_versions=versions_of(VERSIONS if versions is None else versions),
            open_session=opener,
        )
        return client_for(app, raise_app_exceptions=raise_app_exceptions)

    return make


@pytest.fixture
def client(make_client: Callable[..., httpx.AsyncClient]) -> httpx.AsyncClient:
    return make_client()


def assert_message(response: httpx.Response, status: int = 400) -> str:
    """Piston's error body: exactly one key, `message` (pistonapi recognises nothing else)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["message"], body
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])


async def execute(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v2/execute", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# --- runtimes and packages --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v2/runtimes", "/api/v2/piston/runtimes"])
async def test_runtimes_have_piston_names_aliases_and_semver(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json() == [
        {
            "language": "python",
            "version": "3.11.2",
            "aliases": ["py", "py3", "python3", "python3.11"],
        },
        {"language": "c", "version": "12.2.0", "aliases": ["gcc"], "runtime": "gcc"},
        {"language": "c++", "version": "12.2.0", "aliases": ["cpp", "g++"], "runtime": "gcc"},
        {
            "language": "javascript",
            "version": "18.19.0",
            "aliases": ["node-javascript", "node-js", "javascript", "js", "node"],
            "runtime": "node",
        },
        {"language": "java", "version": "17.0.6", "aliases": []},
    ]


async def test_runtime_without_a_known_version_is_listed_and_matches_any_range(
    make_client: Callable[..., httpx.AsyncClient], opener: FakeOpener
) -> None:
    client = make_client(versions={})
    listed = (await client.get("/api/v2/runtimes")).json()
    assert {rt["version"] for rt in listed} == {"0.0.0"}
    await execute(client, {**HELLO, "version": "3.10.0"})
    assert opener.job.language == "python"


async def test_packages_lists_runtimes_installed_and_refuses_changes(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v2/packages")
    assert response.status_code == 200
    assert response.json()[:2] == [
        {"language": "python", "language_version": "3.11.2", "installed": True},
        {"language": "c", "language_version": "12.2.0", "installed": True},
    ]
    body = {"language": "python", "version": "3.11.2"}
    for method in ("POST", "DELETE"):
        refused = await client.request(method, "/api/v2/packages", json=body)
        assert assert_message(refused, 501) == "package management is not supported"


# --- execute: the answer ----------------------------------------------------------------------


async def test_execute_answers_piston_stages(client: httpx.AsyncClient, opener: FakeOpener) -> None:
    opener.script = run_script([chunk("a"), chunk("b", "stderr"), chunk("c\n")])
    answer = await execute(client, HELLO)
    assert answer == {
        "language": "python",
        "version": "3.11.2",
        "run": {
            "stdout": "ac\n",
            "stderr": "b",
            "output": "abc\n",
            "code": 0,
            "signal": None,
            "message": None,
            "status": None,
            "cpu_time": 20,
            "wall_time": 40,
            "memory": 9000 * 1024,
        },
    }


@pytest.mark.parametrize("path", ["/api/v2/execute", "/api/v2/piston/execute"])
async def test_execute_builds_the_job(
    client: httpx.AsyncClient, opener: FakeOpener, path: str
) -> None:
    body = {
        "language": "py",
        "version": "3.11.2",
        "files": [{"name": "solution", "content": "print(input())"}],
        "stdin": "hello",
        "args": ["1", "2"],
    }
    assert (await client.post(path, json=body)).status_code == 200
    job = opener.job
    assert job.language == "python"
    assert job.source_code == "print(input())"
    # As Piston: the input always ends with a newline.
    assert job.stdin == "hello\n"
    assert job.args == ["1", "2"]
    assert job.files == []
    assert not job.interactive
    assert job.timeout_s is None and job.memory_bytes is None and job.cpu_time_s is None


async def test_version_reported_is_the_workers(
    client: httpx.AsyncClient, opener: FakeOpener
) -> None:
    opener.script = run_script(version="Python 3.12.1")
    assert (await execute(client, HELLO))["version"] == "3.12.1"


async def test_compiled_language_has_both_stages(
    client: httpx.AsyncClient, opener: FakeOpener
) -> None:
    compiled = stage(Stage.COMPILE, [chunk("note\n", "stderr", Stage.COMPILE)])
    opener.script = run_script([chunk("hi\n")], compile_stage=compiled, language="c")
    answer = await execute(
        client, {"language": "gcc", "version": "*", "files": [{"content": "int main(){}"}]}
    )
    assert answer["language"] == "c"
    assert answer["compile"]["stderr"] == "note\n"
    assert answer["compile"]["code"] == 0
    assert answer["run"]["stdout"] == "hi\n"


async def test_compile_failure_is_copied_into_run(
    client: httpx.AsyncClient, opener: FakeOpener
) -> None:
    opener.script = [
        SessionStarted(language="cpp", version="g++ 12.2.0"),
        *stage(
            Stage.COMPILE,
            [chunk("error: expected ';'\n", "stderr", Stage.COMPILE)],
            status=Status.COMPILE_ERROR,
            exit_code=1,
        ),
        finished(Status.COMPILE_ERROR),
    ]
    answer = await execute(
        client, {"language": "c++", "version": "12", "files": [{"content": "int main("}]}
    )
    assert answer["language"] == "c++"
    assert answer["run"] == answer["compile"]
    assert answer["run"]["output"] == "error: expected ';'\n"
    assert answer["run"]["code"] == 1
    assert answer["run"]["status"] == "RE"
    assert answer["run"]["message"] == "Exited with error status 1"


@pytest.mark.parametrize(
    ("end", "code", "signal", "status", "message"),
    [
        (
            {"exit_code": 3, "status": Status.RUNTIME_ERROR},
            3,
            None,
            "RE",
            "Exited with error status 3",
        ),
        ({"exit_code": None, "signal": 11}, None, "SIGSEGV", "SG", "Caught fatal signal 11"),
        ({"exit_code": None, "signal": 15}, None, "SIGTERM", "SG", "Caught fatal signal 15"),
        (
            {"exit_code": None, "signal": 9, "time_limit": "wall", "status": Status.TIMEOUT},
            None,
            "SIGKILL",
            "TO",
            "Time limit exceeded (wall clock)",
        ),
        (
            {"exit_code": None, "signal": 9, "time_limit": "cpu", "status": Status.TIMEOUT},
            None,
            "SIGKILL",
            "TO",
            "Time limit exceeded",
        ),
        (
            {"exit_code": None, "output_limit": "stdout", "status": Status.OUTPUT_LIMIT},
            None,
            "SIGKILL",
            "OL",
            "stdout length exceeded",
        ),
        (
            {"exit_code": None, "output_limit": "stderr", "status": Status.OUTPUT_LIMIT},
            None,
            "SIGKILL",
            "EL",
            "stderr length exceeded",
        ),
        (
            {"exit_code": None, "signal": 9, "memory_exceeded": True},
            None,
            "SIGKILL",
            "SG",
            "Memory limit exceeded",
        ),
        (
            {"exit_code": None, "status": Status.INTERNAL_ERROR, "message": "sandbox lost"},
            None,
            None,
            "XX",
            "sandbox lost",
        ),
    ],
)
async def test_stage_status_signal_and_message_as_piston(
    client: httpx.AsyncClient,
    opener: FakeOpener,
    end: dict[str, Any],
    code: int | None,
    signal: str | None,
    status: str,
    message: str,
) -> None:
    opener.script = run_script(**end)
    run = (await execute(client, HELLO))["run"]
    assert (run["code"], run["signal"], run["status"], run["message"]) == (
        code,
        signal,
        status,
        message,
    )


async def test_a_run_that_never_ended_is_xx(client: httpx.AsyncClient, opener: FakeOpener) -> None:
    opener.script = [
        SessionStarted(language="python"),
        finished(Status.INTERNAL_ERROR, stderr="no sandbox could be started"),
    ]
    run = (await execute(client, HELLO))["run"]
    assert run["status"] == "XX"
    assert run["message"] == "no sandbox could be started"
    assert run["code"] is None and run["signal"] is None


# --- execute: validation, in Piston's order ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "language is required as a string"),
        ({"language": 3, "version": "*", "files": []}, "language is required as a string"),
        ({"language": "python", "version": 3, "files": []}, "version is required as a string"),
        ({"language": "python", "version": "*"}, "files is required as an array"),
        ({"language": "python", "version": "*", "files": "x"}, "files is required as an array"),
        (
            {"language": "python", "version": "*", "files": [{"content": "x"}, {}]},
            "files[1].content is required as a string",
        ),
        (
            {"language": "nosuchlang", "files": [{"content": "x"}]},
            "nosuchlang-* runtime is unknown",
        ),
        (
            {"language": "python", "version": "9.x", "files": [{"content": "x"}]},
            "python-9.x runtime is unknown",
        ),
        (
            {"language": "python", "version": "3.10.0", "files": [{"content": "x"}]},
            "python-3.10.0 runtime is unknown",
        ),
        (
            {"language": "python", "version": "*", "files": []},
            "files must include at least one utf8 encoded file",
        ),
        (
            {
                "language": "python",
                "version": "*",
                "files": [{"content": "eA==", "encoding": "base64"}],
            },
            "files must include at least one utf8 encoded file",
        ),
        ({**HELLO, "run_timeout": "3000"}, "If specified, run_timeout must be a number"),
        ({**HELLO, "run_memory_limit": True}, "If specified, run_memory_limit must be a number"),
        (
            {**HELLO, "run_timeout": 10001},
            "run_timeout cannot exceed the configured limit of 10000",
        ),
        (
            {**HELLO, "compile_timeout": 20000},
            "compile_timeout cannot exceed the configured limit of 10000",
        ),
        (
            {**HELLO, "run_memory_limit": 1 << 30},
            "run_memory_limit cannot exceed the configured limit of 536870912",
        ),
        ({**HELLO, "run_timeout": -5}, "run_timeout must be non-negative"),
        # Piston checks memory, then timeouts, then CPU times; compile before run.
        (
            {**HELLO, "run_cpu_time": "x", "run_memory_limit": "x"},
            "If specified, run_memory_limit must be a number",
        ),
        ({**HELLO, "stdin": 5}, "stdin must be a string"),
        ({**HELLO, "args": "1 2"}, "args must be an array of strings"),
        ({**HELLO, "args": [1, 2]}, "args must be an array of strings"),
    ],
)
async def test_invalid_requests_get_pistons_messages(
    client: httpx.AsyncClient, opener: FakeOpener, body: dict[str, Any], message: str
) -> None:
    response = await client.post("/api/v2/execute", json=body)
    assert assert_message(response) == message
    assert opener.jobs == []


@pytest.mark.parametrize(
    ("language", "version"),
    [
        ("python", "3.11.2"),
        ("python", "3"),
        ("python", "3.x"),
        ("python", "^3.10"),
        ("python", ">=3.9 <4"),
        ("python3.11", "*"),
        ("Python", "*"),
        ("py3", "3.11.x"),
        ("c++", "12.2.0"),
        ("cpp", "*"),
        ("node", "18"),
        ("js", "18.x"),
    ],
)
async def test_names_aliases_and_version_ranges_match(
    client: httpx.AsyncClient, language: str, version: str
) -> None:
    body = {"language": language, "version": version, "files": [{"content": "x"}]}
    response = await client.post("/api/v2/execute", json=body)
    assert response.status_code == 200, response.text


async def test_missing_version_means_any(client: httpx.AsyncClient, opener: FakeOpener) -> None:
    # piston-client leaves the version out when it is called with an alias.
    await execute(client, {"language": "js", "files": [{"content": "x"}]})
    assert opener.job.language == "javascript"


# --- execute: limits --------------------------------------------------------------------------


async def test_minus_one_and_zero_limits_are_the_defaults(
    client: httpx.AsyncClient, opener: FakeOpener
) -> None:
    limits = {
        f"{stage}_{name}": value
        for stage in ("compile", "run")
        for name, value in (("timeout", 0), ("cpu_time", -1), ("memory_limit", -1))
    }
    await execute(client, {**HELLO, **limits})
    job = opener.job
    assert (job.timeout_s, job.cpu_time_s, job.compile_timeout_s, job.memory_bytes) == (
        None,
        None,
        None,
        None,
    )


async def test_limits_reach_the_job(client: httpx.AsyncClient, opener: FakeOpener) -> None:
    await execute(
        client,
        {
            **HELLO,
            "run_timeout": 2500,
            "run_cpu_time": 1500,
            "compile_timeout": 4000,
            "run_memory_limit": 64_000_000,
        },
    )
    job = opener.job
    assert job.timeout_s == 2.5
    assert job.cpu_time_s == 1.5
    assert job.compile_timeout_s == 4.0
    assert job.memory_bytes == 64_000_000


async def test_piston_client_defaults_pass_a_service_with_lower_caps(
    make_client: Callable[..., httpx.AsyncClient], opener: FakeOpener
) -> None:
    """piston-client always sends compile_timeout 10000 and run_timeout 3000: within Piston's
    own defaults, they run at this service's lower caps instead of being refused."""
    client = make_client(jobTimeout="2s", compileTimeout="5s")
    body = {
        **HELLO,
        "compile_timeout": 10000,
        "run_timeout": 3000,
        "compile_memory_limit": -1,
        "run_memory_limit": -1,
    }
    await execute(client, body)
    assert opener.job.timeout_s == 2.0
    assert opener.job.compile_timeout_s == 5.0
    refused = await client.post("/api/v2/execute", json={**HELLO, "run_timeout": 3001})
    assert assert_message(refused) == "run_timeout cannot exceed the configured limit of 2000"


async def test_a_tiny_memory_limit_is_raised_to_what_a_program_needs(
    client: httpx.AsyncClient, opener: FakeOpener
) -> None:
    await execute(client, {**HELLO, "run_memory_limit": 1000})
    assert opener.job.memory_bytes == 16 << 20


# --- execute: files and stdin -----------------------------------------------------------------


async def test_files_keep_names_and_binary_encodings(
    client: httpx.AsyncClient, opener: FakeOpener
) -> None:
    files = [
        {
            "name": "blob.bin",
            "content": base64.b64encode(b"\x00\xff").decode(),
            "encoding": "base64",
        },
        {"name": "main", "content": "print(1)"},
        {"name": "lib/util.py", "content": "X = 1\n"},
        {"content": "plain"},
        {"name": "data.hex", "content": "00ff10", "encoding": "hex"},
        {"name": "odd.txt", "content": "text", "encoding": "latin1"},
        {"name": "/abs/path.txt", "content": "a"},
        {"name": "url.bin", "content": "-_8", "encoding": "base64"},
    ]
    await execute(client, {"language": "python", "version": "*", "files": files})
    job = opener.job
    # The first utf8 file is the entry point, whatever its name.
    assert job.source_code == "print(1)"
    assert [(f.name, f.content, f.encoding) for f in job.files] == [
        ("blob.bin", "AP8=", "base64"),
        ("lib/util.py", "X = 1\n", "utf8"),
        ("file3.code", "plain", "utf8"),
        ("data.hex", "AP8Q", "base64"),
        ("odd.txt", "text", "utf8"),
        ("abs/path.txt", "a", "utf8"),
        ("url.bin", "+/8=", "base64"),
    ]


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (
            {"name": "../x", "content": "a"},
            'File path "../x" tries to escape parent directory: ../x',
        ),
        (
            {"name": "a/../../etc/x", "content": "a"},
            'File path "a/../../etc/x" tries to escape parent directory: ../etc/x',
        ),
        (
            {"name": "x", "content": "@@@", "encoding": "base64"},
            "files[1].content is not valid base64",
        ),
        ({"name": "x", "content": "zz", "encoding": "hex"}, "files[1].content is not valid hex"),
        ({"name": 5, "content": "a"}, "files[1].name must be a string"),
        (
            {"name": "main.py", "content": "a"},
            "a file named 'main.py' would replace the entry point",
        ),
    ],
)
async def test_bad_files_are_400s(
    client: httpx.AsyncClient, file: dict[str, Any], message: str
) -> None:
    body = {"language": "python", "version": "*", "files": [{"content": "x"}, file]}
    assert assert_message(await client.post("/api/v2/execute", json=body)).startswith(message)


async def test_an_empty_program_runs(client: httpx.AsyncClient, opener: FakeOpener) -> None:
    await execute(client, {"language": "python", "version": "*", "files": [{"content": ""}]})
    assert opener.job.source_code.strip() == ""


async def test_stdin_that_ends_with_a_newline_is_kept(
    client: httpx.AsyncClient, opener: FakeOpener
) -> None:
    await execute(client, {**HELLO, "stdin": "a\nb\n"})
    assert opener.job.stdin == "a\nb\n"


# --- execute: bodies as the clients send them -------------------------------------------------


@pytest.mark.parametrize(
    "content_type", [None, "text/plain;charset=UTF-8", "application/json", "application/xml"]
)
async def test_json_body_whatever_the_content_type(
    client: httpx.AsyncClient, opener: FakeOpener, content_type: str | None
) -> None:
    import json

    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post("/api/v2/execute", content=json.dumps(HELLO), headers=headers)
    assert response.status_code == 200, response.text
    assert opener.job.source_code == "print('hi')"


async def test_pistonapi_form_body(client: httpx.AsyncClient, opener: FakeOpener) -> None:
    # requests.post(url, {"language": ..., "files": [code], "args": [...], ...}), as pistonapi.
    form = {
        "language": "python",
        "version": "3.11.2",
        "files": ["print(input())"],
        "stdin": "",
        "args": ["a", "b"],
        "timeout": "10000",
    }
    response = await client.post("/api/v2/piston/execute", data=form)
    assert response.status_code == 200, response.text
    job = opener.job
    assert (job.source_code, job.stdin, job.args) == ("print(input())", "\n", ["a", "b"])


async def test_form_with_nested_fields_and_numbers(
    client: httpx.AsyncClient, opener: FakeOpener
) -> None:
    form = (
        "language=python&version=*&files[0][name]=a.py&files[0][content]=print(2)"
        "&files[1][name]=b.txt&files[1][content]=B&args[]=x&run_timeout=1500"
    )
    response = await client.post(
        "/api/v2/execute",
        content=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    job = opener.job
    assert job.source_code == "print(2)"
    assert [(f.name, f.content) for f in job.files] == [("b.txt", "B")]
    assert job.args == ["x"]
    assert job.timeout_s == 1.5


@pytest.mark.parametrize(
    ("content", "start"),
    [
        (b"{not json", "request body is not valid JSON"),
        (b"[1, 2]", "request body must be a JSON object"),
        (b'{"language": NaN}', "request body is not valid JSON"),
    ],
)
async def test_bad_json_is_a_400_with_a_message(
    client: httpx.AsyncClient, content: bytes, start: str
) -> None:
    response = await client.post("/api/v2/execute", content=content)
    assert assert_message(response).startswith(start)


# --- errors in Piston's shape -----------------------------------------------------------------


async def test_unknown_piston_path_is_not_found(client: httpx.AsyncClient) -> None:
    assert assert_message(await client.get("/api/v2/nothing"), 404) == "Not Found"
    assert assert_message(await client.get("/api/v2/execute"), 405) == "Method Not Allowed"


async def test_native_paths_keep_their_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


@pytest.mark.parametrize(
    ("error", "status"),
    [(BrokerUnavailable("the broker is unreachable"), 503), (QueueFull("queue is full"), 503)],
)
async def test_service_errors_have_a_message(
    client: httpx.AsyncClient, opener: FakeOpener, error: Exception, status: int
) -> None:
    opener.error = error
    assert assert_message(await client.post("/api/v2/execute", json=HELLO), status) == str(error)


async def test_a_run_past_the_api_timeout_is_a_504_and_its_session_closed(
    make_client: Callable[..., httpx.AsyncClient], opener: FakeOpener
) -> None:
    client = make_client(apiTimeout="0.3s")
    opener.script = [SessionStarted(language="python"), Hang()]
    response = await client.post("/api/v2/execute", json=HELLO)
    assert assert_message(response, 504) == "no result within 0.3 s"
    assert opener.sessions[0].closed


async def test_unexpected_failure_is_a_500_with_a_message(
    make_client: Callable[..., httpx.AsyncClient], opener: FakeOpener
) -> None:
    client = make_client(raise_app_exceptions=False)
    opener.error = RuntimeError("boom")
    response = await client.post("/api/v2/execute", json=HELLO)
    assert assert_message(response, 500) == "internal server error"


async def test_missing_api_key_is_a_401_with_a_message(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = make_client(auth={"tokens": ["secret"]})
    assert assert_message(await client.get("/api/v2/runtimes"), 401).startswith(
        "a valid API key is required"
    )
    allowed = await client.get("/api/v2/runtimes", headers={"Authorization": "Bearer secret"})
    assert allowed.status_code == 200


async def test_too_large_body_is_a_413_with_a_message(client: httpx.AsyncClient) -> None:
    body = {**HELLO, "stdin": "x" * (9 << 20)}
    assert assert_message(await client.post("/api/v2/execute", json=body), 413)


async def test_rate_limited_execute_is_a_429_with_a_message(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = make_client(rateLimit={"requestsPerSecond": 0.001, "burst": 1})
    assert (await client.post("/api/v2/execute", json=HELLO)).status_code == 200
    limited = await client.post("/api/v2/piston/execute", json=HELLO)
    assert assert_message(limited, 429) == "rate limit exceeded"
    assert "Retry-After" in limited.headers
    # Reading runtimes creates no work.
    assert (await client.get("/api/v2/runtimes")).status_code == 200


# --- v1 ---------------------------------------------------------------------------------------


async def test_v1_versions(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/piston/versions")
    assert response.status_code == 200
    assert response.json()[0] == {
        "name": "python3",
        "aliases": ["py", "py3", "python", "python3"],
        "version": "3.11.2",
    }
    assert {entry["name"] for entry in response.json()} == {"python3", "c", "cpp", "node", "java"}


async def test_v1_execute(client: httpx.AsyncClient, opener: FakeOpener) -> None:
    opener.script = run_script([chunk("  out\n"), chunk("err\n", "stderr")])
    body = {"language": "Python", "source": "print(input())", "stdin": "x", "args": ["1"]}
    response = await client.post("/api/v1/piston/execute", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "ran": True,
        "language": "python3",
        "version": "3.11.2",
        "stdout": "out",
        "stderr": "err",
        "output": "out\nerr",
    }
    job = opener.job
    assert (job.language, job.source_code, job.stdin, job.args) == (
        "python",
        "print(input())",
        "x",
        ["1"],
    )


async def test_v1_compile_failure_shows_the_compiler(
    client: httpx.AsyncClient, opener: FakeOpener
) -> None:
    opener.script = [
        SessionStarted(language="c"),
        *stage(
            Stage.COMPILE,
            [chunk("main.c:1: error\n", "stderr", Stage.COMPILE)],
            exit_code=1,
            status=Status.COMPILE_ERROR,
        ),
        finished(Status.COMPILE_ERROR),
    ]
    response = await client.post("/api/v1/piston/execute", json={"language": "c", "source": "x"})
    answer = response.json()
    assert answer["ran"] is False
    assert answer["output"] == answer["stderr"] == "main.c:1: error"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "No language supplied"),
        ({"language": 5, "source": "x"}, "Supplied language is not a string"),
        ({"language": "cobol", "source": "x"}, "Supplied language is not supported by Piston"),
        ({"language": "python3"}, "No source supplied"),
        ({"language": "py", "source": 5}, "Supplied source is not a string"),
        ({"language": "py", "source": "x", "args": "1"}, "Supplied args is not an array"),
        ({"language": "py", "source": "x", "stdin": 5}, "Supplied stdin is not a string"),
    ],
)
async def test_v1_errors(client: httpx.AsyncClient, body: dict[str, Any], message: str) -> None:
    assert assert_message(await client.post("/api/v1/piston/execute", json=body)) == message


def test_stream_names_are_the_wire_names() -> None:
    assert [s.value for s in StreamName] == ["stdout", "stderr"]
    assert ended().stage == Stage.RUN


async def test_pistons_default_compile_timeout_leaves_the_toolchain_its_own(
    client: httpx.AsyncClient, opener: FakeOpener
) -> None:
    # piston-client sends compile_timeout 10000 unasked: Kotlin or Scala need more here.
    await execute(client, {**HELLO, "compile_timeout": 10000})
    assert opener.job.compile_timeout_s is None
