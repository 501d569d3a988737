"""api/native.py: POST /api, GET /api/languages and POST /execute (fake submit, no services)."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from runakode.api import create_app
from runakode.config import Settings
from runakode.errors import BrokerUnavailable, ResultTimeout
from runakode.languages import LANGUAGES
from runakode.models import MAX_ARGS, MAX_FILES, CompileResult, Job, JobFile, JobResult, Status
from unit.api.helpers import RESULT_KEYS, VALID, assert_error, versions_of
from unit.fakes import ClientFor, FakeSubmit

COMPAT = {"language": "python3", "code": 'print("hello")'}


def result(status: Status = Status.OK, stdout: str = "", stderr: str = "") -> JobResult:
    return JobResult(
        stdout=stdout, stderr=stderr, exit_code=0, timeout=False, exec_time_ms=5, status=status
    )


async def post_ok(client: httpx.AsyncClient, fake_submit: FakeSubmit, **fields: Any) -> Job:
    response = await client.post("/api", json={**VALID, **fields})
    assert response.status_code == 200, response.text
    return fake_submit.job


async def post_bad(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, body: dict[str, Any] | None = None, **f: Any
) -> str:
    message = assert_error(await client.post("/api", json={**(body or VALID), **f}))
    assert fake_submit.calls == []
    return message


# --- POST /api --------------------------------------------------------------------------------


async def test_execute_returns_the_result(client: httpx.AsyncClient, fake_submit: FakeSubmit):
    fake_submit.result = JobResult(
        stdout="hello\n",
        stderr="warn\n",
        exit_code=3,
        timeout=False,
        exec_time_ms=42,
        status=Status.RUNTIME_ERROR,
        truncated=True,
    )
    response = await client.post("/api", json=VALID)

    assert response.status_code == 200
    assert response.json() == {
        "stdout": "hello\n",
        "stderr": "warn\n",
        "exit_code": 3,
        "timeout": False,
        "exec_time_ms": 42,
        "status": "runtime_error",
        "truncated": True,
    }


async def test_execute_hands_the_job_to_submit(client: httpx.AsyncClient, fake_submit: FakeSubmit):
    response = await client.post("/api", json=VALID)

    assert set(response.json()) == RESULT_KEYS
    [(job, timeout_s)] = fake_submit.calls
    assert job.language == "python"
    assert job.source_code == VALID["source_code"]
    assert job.id
    assert timeout_s == 7.0


async def test_every_job_gets_its_own_id(client: httpx.AsyncClient, fake_submit: FakeSubmit):
    for _ in range(3):
        await client.post("/api", json=VALID)
    assert len({job.id for job, _ in fake_submit.calls}) == 3


# --- old requests keep working ----------------------------------------------------------------


async def test_old_request_makes_the_same_job_as_before(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    response = await client.post("/api", json=VALID, headers={"X-Request-ID": "req-42"})

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-42"
    job = fake_submit.job
    assert len(job.id) == 32
    assert job.request_id == "req-42"
    assert isinstance(job.submitted_at, float)
    assert job.model_dump(exclude={"id", "submitted_at", "request_id"}) == {
        "language": "python",
        "source_code": 'print("hello")',
        "stdin": "",
        "args": [],
        "files": [],
        "timeout_s": None,
        "memory_bytes": None,
        "output_max_bytes": None,
        "cpu_time_s": None,
        "compile_timeout_s": None,
        "merge_output": False,
        "interactive": False,
        "expected_output": None,
    }


async def test_old_answer_shape_has_no_new_keys_when_they_are_unset(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    assert fake_submit.result.language is None and fake_submit.result.compile is None
    response = await client.post("/api", json=VALID)
    assert set(response.json()) == RESULT_KEYS


async def test_answer_carries_language_version_and_compile_when_set(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    compiled = CompileResult(stdout="", stderr="oops\n", exit_code=1, exec_time_ms=300)
    fake_submit.result = JobResult(
        stdout="",
        stderr="oops\n",
        exit_code=1,
        timeout=False,
        exec_time_ms=0,
        status=Status.COMPILE_ERROR,
        language="go",
        version="go1.22.1",
        compile=compiled,
    )
    response = await client.post("/api", json={"language": "go", "source_code": "package x"})

    body = response.json()
    assert set(body) == RESULT_KEYS | {"language", "version", "compile"}
    assert body["status"] == "compile_error"
    assert (body["language"], body["version"]) == ("go", "go1.22.1")
    assert body["compile"] == {
        "stdout": "",
        "stderr": "oops\n",
        "exit_code": 1,
        "exec_time_ms": 300,
        "timeout": False,
    }


async def test_answer_omits_version_alone_when_unknown(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, result_ok: JobResult
) -> None:
    fake_submit.result = result_ok.model_copy(update={"language": "python"})
    body = (await client.post("/api", json=VALID)).json()
    assert set(body) == RESULT_KEYS | {"language"}


# --- POST /api: 400 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"",
        b"\xff\xfe\x00",
        b'["python", "print(1)"]',
        b'"a string"',
        b"42",
        b"null",
        b'{"language": "python", "source_code": "print(1)"',
    ],
)
async def test_body_that_is_not_a_json_object(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, content: bytes
) -> None:
    message = assert_error(await client.post("/api", content=content), 400)
    assert "JSON object" in message
    assert fake_submit.calls == []


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({}, "language"),
        ({"language": "python"}, "source_code"),
        ({"source_code": "print(1)"}, "language"),
        ({**VALID, "source_code": "   \n"}, "source_code"),
        ({**VALID, "language": ""}, "language"),
        ({**VALID, "language": 1}, "language"),
        ({**VALID, "source_code": ["print(1)"]}, "source_code"),
        ({**VALID, "source_code": None}, "source_code"),
        ({**VALID, "extra": True}, "extra"),
    ],
)
async def test_invalid_fields(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, body: dict[str, Any], mentions: str
) -> None:
    message = assert_error(await client.post("/api", json=body), 400)
    assert mentions in message
    assert fake_submit.calls == []


async def test_lone_surrogate_escape(client: httpx.AsyncClient, fake_submit: FakeSubmit):
    content = b'{"language": "python", "source_code": "print(\\"\\ud800\\")"}'
    message = assert_error(await client.post("/api", content=content), 400)
    assert "source_code" in message
    assert fake_submit.calls == []


@pytest.mark.parametrize("language", ["cobol", "rust", "rs", "Pythonn"])
async def test_unsupported_language(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, language: str
) -> None:
    # rust (rs) is a known language, but not one of the LANGS these settings serve
    message = assert_error(await client.post("/api", json={**VALID, "language": language}), 400)
    assert "not supported" in message
    assert fake_submit.calls == []


async def test_deeply_nested_json_is_a_400(
    settings: Settings, fake_submit: FakeSubmit, client_for: ClientFor
) -> None:
    client = client_for(create_app(settings, fake_submit, []), raise_app_exceptions=False)
    assert_error(await client.post("/api", content=b"[" * 100_000), 400)


# --- stdin, args, files reach the job ---------------------------------------------------------


async def test_everything_reaches_the_job(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    job = await post_ok(
        client,
        fake_submit,
        stdin="world\nä\n",
        args=["--loud", "two words", ""],
        files=[
            {"name": "data.txt", "content": "42\n"},
            {"name": "lib/util.py", "content": "X = 1\n"},
        ],
        limits={"timeout_s": 2.5, "memory_mb": 256, "output_max_bytes": 100},
    )
    assert job.stdin == "world\nä\n"
    assert job.args == ["--loud", "two words", ""]
    assert job.files == [
        JobFile(name="data.txt", content="42\n"),
        JobFile(name="lib/util.py", content="X = 1\n"),
    ]
    assert (job.timeout_s, job.memory_bytes, job.output_max_bytes) == (2.5, 256 << 20, 100)
    assert job.merge_output is False


@pytest.mark.parametrize(
    "name", ["data.txt", "lib/util.py", "a..b", "...", ".hidden", "Main.py", "x" * 255]
)
async def test_acceptable_file_names(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, name: str
) -> None:
    job = await post_ok(client, fake_submit, files=[{"name": name, "content": ""}])
    assert [file.name for file in job.files] == [name]


async def test_as_many_files_and_args_as_allowed(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    files = [{"name": f"f{i}.txt", "content": str(i)} for i in range(MAX_FILES)]
    args = [str(i) for i in range(MAX_ARGS)]
    job = await post_ok(client, fake_submit, files=files, args=args)
    assert len(job.files) == MAX_FILES
    assert job.args == args


# --- aliases ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("python", "python"),
        ("python3", "python"),
        ("py", "python"),
        ("PY", "python"),
        ("Python3", "python"),
        (" python ", "python"),
        ("go", "go"),
        ("golang", "go"),
        ("GoLang", "go"),
        ("js", "javascript"),
        ("node", "javascript"),
        ("nodejs", "javascript"),
        ("JavaScript", "javascript"),
        ("c++", "cpp"),
        ("C++", "cpp"),
        ("g++", "cpp"),
        ("cplusplus", "cpp"),
        ("CPP", "cpp"),
        ("java", "java"),
        ("java17", "java"),
        ("JAVA", "java"),
    ],
)
async def test_aliases_resolve_to_the_canonical_name(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, alias: str, canonical: str
) -> None:
    job = await post_ok(client, fake_submit, language=alias)
    assert job.language == canonical


@pytest.mark.parametrize("language", ["gcc", "rs", "rust", "c", "ruby", "cobol", "python 3"])
async def test_aliases_of_languages_not_served_are_rejected(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, language: str
) -> None:
    # gcc is an alias of c (not cpp); rs of rust: neither is served by these settings.
    assert "not supported" in await post_bad(client, fake_submit, language=language)


# --- files: 400 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "",
        " ",
        "/etc/passwd",
        "/main.py",
        "..",
        "../x",
        "a/../b",
        "a/..",
        "./a",
        "a/./b",
        "a//b",
        "a/",
        "a\0b",
        "\0",
        "x" * 256,
    ],
)
async def test_unsafe_file_names(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, name: str
) -> None:
    message = await post_bad(client, fake_submit, files=[{"name": name, "content": "x"}])
    assert "files.0.name" in message


async def test_repeated_file_name(client: httpx.AsyncClient, fake_submit: FakeSubmit) -> None:
    files = [{"name": "a.txt", "content": "1"}, {"name": "a.txt", "content": "2"}]
    assert "same name" in await post_bad(client, fake_submit, files=files)


@pytest.mark.parametrize(
    ("language", "source", "main_file"),
    [
        ("python", "print(1)", "main.py"),
        ("py", "print(1)", "main.py"),
        ("go", "package main", "main.go"),
        ("cpp", "int main(){}", "main.cpp"),
        ("js", "console.log(1)", "main.js"),
        ("java", "class Main { public static void main(String[] a) {} }", "Main.java"),
        (
            "java",
            "public class Solution { public static void main(String[] a) {} }",
            "Solution.java",
        ),
    ],
)
async def test_file_named_like_the_main_source_file(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, language: str, source: str, main_file: str
) -> None:
    body = {"language": language, "source_code": source}
    message = await post_bad(client, fake_submit, body, files=[{"name": main_file, "content": ""}])
    assert main_file in message


async def test_java_main_java_is_free_when_the_class_is_named_otherwise(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    source = "public class Solution { public static void main(String[] a) {} }"
    body = {"language": "java", "source_code": source}
    response = await client.post(
        "/api", json={**body, "files": [{"name": "Main.java", "content": ""}]}
    )
    assert response.status_code == 200
    assert fake_submit.job.files == [JobFile(name="Main.java", content="")]


@pytest.mark.parametrize(
    "file",
    [
        "data.txt",
        ["data.txt", "x"],
        None,
        42,
        {"name": "data.txt"},
        {"content": "x"},
        {"name": "data.txt", "content": "x", "mode": "0755"},
        {"name": "data.txt", "content": None},
        {"name": "data.txt", "content": 42},
        {"name": "data.txt", "content": ["x"]},
        {"name": 1, "content": "x"},
        {"name": None, "content": "x"},
    ],
)
async def test_malformed_file(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, file: Any
) -> None:
    assert "files" in await post_bad(client, fake_submit, files=[file])


@pytest.mark.parametrize("files", [{"name": "a", "content": "b"}, "a", None])
async def test_files_not_a_list(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, files: Any
) -> None:
    assert "files" in await post_bad(client, fake_submit, files=files)


async def test_too_many_files(client: httpx.AsyncClient, fake_submit: FakeSubmit) -> None:
    files = [{"name": f"f{i}", "content": ""} for i in range(MAX_FILES + 1)]
    assert "files" in await post_bad(client, fake_submit, files=files)


async def test_file_content_with_lone_surrogate(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    content = (
        b'{"language": "python", "source_code": "print(1)",'
        b' "files": [{"name": "a.txt", "content": "\\udc00"}]}'
    )
    assert "files.0.content" in assert_error(await client.post("/api", content=content))
    assert fake_submit.calls == []


# --- args and stdin: 400 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    ["--loud", None, 1, {"a": "b"}, [1], [None], [True], [["a"]], ["ok", 2], ["a\0b"], ["\0"]],
)
async def test_bad_args(client: httpx.AsyncClient, fake_submit: FakeSubmit, args: Any) -> None:
    assert "args" in await post_bad(client, fake_submit, args=args)


async def test_too_many_args(client: httpx.AsyncClient, fake_submit: FakeSubmit) -> None:
    assert "args" in await post_bad(client, fake_submit, args=["a"] * (MAX_ARGS + 1))


@pytest.mark.parametrize("stdin", [None, 1, 1.5, True, ["a"], {"a": "b"}])
async def test_bad_stdin(client: httpx.AsyncClient, fake_submit: FakeSubmit, stdin: Any) -> None:
    assert "stdin" in await post_bad(client, fake_submit, stdin=stdin)


# --- limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "timeout_s", "memory_bytes", "output_max_bytes"),
    [
        (None, None, None, None),
        ({}, None, None, None),
        ({"timeout_s": None, "memory_mb": None, "output_max_bytes": None}, None, None, None),
        ({"timeout_s": 5}, 5.0, None, None),
        ({"timeout_s": 5.0}, 5.0, None, None),
        ({"timeout_s": 0.25}, 0.25, None, None),
        ({"timeout_s": 2}, 2.0, None, None),
        ({"memory_mb": 512}, None, 512 << 20, None),
        ({"memory_mb": 16}, None, 16 << 20, None),
        ({"memory_mb": 100}, None, 100 << 20, None),
        ({"output_max_bytes": 4096}, None, None, 4096),
        ({"output_max_bytes": 1}, None, None, 1),
    ],
)
async def test_limits_within_the_maximum_are_carried(
    client: httpx.AsyncClient,
    fake_submit: FakeSubmit,
    limits: dict[str, Any] | None,
    timeout_s: float | None,
    memory_bytes: int | None,
    output_max_bytes: int | None,
) -> None:
    job = await post_ok(client, fake_submit, limits=limits)
    assert (job.timeout_s, job.memory_bytes, job.output_max_bytes) == (
        timeout_s,
        memory_bytes,
        output_max_bytes,
    )
    if timeout_s is not None:
        assert isinstance(job.timeout_s, float)


@pytest.mark.parametrize(
    ("key", "value", "maximum"),
    [
        ("timeout_s", 5.001, "5"),
        ("timeout_s", 6, "5"),
        ("timeout_s", 1e308, "5"),
        ("memory_mb", 513, "512"),
        ("memory_mb", 1 << 40, "512"),
        ("output_max_bytes", 4097, "4096"),
    ],
)
async def test_limits_above_the_maximum(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, key: str, value: Any, maximum: str
) -> None:
    message = await post_bad(client, fake_submit, limits={key: value})
    assert f"limits.{key}" in message
    assert f"at most {maximum}" in message


@pytest.mark.parametrize("key", ["timeout_s", "memory_mb", "output_max_bytes"])
@pytest.mark.parametrize("value", [0, -1, "2", True, False, [], {}, [1]])
async def test_limits_zero_negative_or_wrong_type(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, key: str, value: Any
) -> None:
    assert f"limits.{key}" in await post_bad(client, fake_submit, limits={key: value})


@pytest.mark.parametrize(
    ("key", "value"),
    [("timeout_s", -0.5), ("timeout_s", 0.0), ("memory_mb", 256.0), ("output_max_bytes", 100.5)],
)
async def test_limits_wrong_number_kind(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, key: str, value: Any
) -> None:
    # memory_mb and output_max_bytes are whole numbers: even 256.0 is refused.
    assert f"limits.{key}" in await post_bad(client, fake_submit, limits={key: value})


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
async def test_non_finite_timeout_is_refused(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, literal: bytes
) -> None:
    # Python's json module accepts these non-standard literals: they must not slip through.
    content = b'{"language": "python", "source_code": "x", "limits": {"timeout_s": %s}}' % literal
    assert "limits.timeout_s" in assert_error(await client.post("/api", content=content))
    assert fake_submit.calls == []


@pytest.mark.parametrize("memory_mb", [1, 15])
async def test_memory_below_16_mib(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, memory_mb: int
) -> None:
    message = await post_bad(client, fake_submit, limits={"memory_mb": memory_mb})
    assert "limits.memory_mb" in message and "16" in message


@pytest.mark.parametrize("limits", [{"cpus": 1}, {"timeout": 2}, {"timeout_s": 1, "pids": 10}])
async def test_unknown_limit(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, limits: dict[str, Any]
) -> None:
    message = await post_bad(client, fake_submit, limits=limits)
    assert "limits." in message and "unknown field" in message


@pytest.mark.parametrize("limits", ["fast", 5, True, [], [{"timeout_s": 1}]])
async def test_limits_not_an_object(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, limits: Any
) -> None:
    assert "limits" in await post_bad(client, fake_submit, limits=limits)


async def test_large_maximum_is_written_exactly(
    make_settings: Callable[..., Settings], fake_submit: FakeSubmit, client_for: ClientFor
) -> None:
    settings = make_settings(supportedLanguages=["python"])  # outputMaxBytes defaults to 1 MiB
    assert settings.output_max_bytes == 1048576
    client = client_for(create_app(settings, fake_submit, []))
    response = await client.post("/api", json={**VALID, "limits": {"output_max_bytes": 1048577}})
    assert "at most 1048576" in assert_error(response)


# --- GET /api/languages -----------------------------------------------------------------------


async def test_languages_lists_enabled_languages_in_order(
    settings: Settings, fake_submit: FakeSubmit, client_for: ClientFor
) -> None:
    versions = versions_of(
        {"python": "Python 3.12.1", "go": "go1.22.1", "java": None, "rust": "rustc 1.77"}
    )
    client = client_for(create_app(settings, fake_submit, [], language_versions=versions))
    response = await client.get("/api/languages")

    assert response.status_code == 200
    # The workers announced python, go and java (java's image records no version); the others'
    # images are missing.
    py, go, java, js, cpp = response.json()
    assert py == {
        "name": "python",
        "version": "Python 3.12.1",
        "aliases": ["python3", "py"],
        "available": True,
    }
    assert go == {"name": "go", "version": "go1.22.1", "aliases": ["golang"], "available": True}
    assert java == {"name": "java", "version": None, "aliases": ["java17"], "available": True}
    assert js == {
        "name": "javascript",
        "version": None,
        "aliases": ["js", "node", "nodejs"],
        "available": False,
    }
    assert cpp["name"] == "cpp" and not cpp["available"]
    assert fake_submit.calls == []


async def test_languages_follow_the_configured_order(
    make_api_settings: Callable[..., Settings], fake_submit: FakeSubmit, client_for: ClientFor
) -> None:
    order = ["php", "cpp", "python", "rust"]
    client = client_for(create_app(make_api_settings(order), fake_submit, []))
    body = (await client.get("/api/languages")).json()
    assert [entry["name"] for entry in body] == order
    for entry in body:
        assert entry["aliases"] == list(LANGUAGES[entry["name"]].aliases)
        assert entry["version"] is None  # no language_versions given: every version unknown
    assert body[0]["aliases"] == []  # php has no alias


async def test_languages_reads_versions_on_each_request(
    settings: Settings, fake_submit: FakeSubmit, client_for: ClientFor
) -> None:
    calls = 0

    async def versions() -> dict[str, str | None]:
        nonlocal calls
        calls += 1
        return {"python": f"Python 3.{calls}"}

    client = client_for(create_app(settings, fake_submit, [], language_versions=versions))
    assert (await client.get("/api/languages")).json()[0]["version"] == "Python 3.1"
    assert (await client.get("/api/languages")).json()[0]["version"] == "Python 3.2"


async def test_post_on_languages_is_405(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/languages", json={}), 405)


# --- POST /execute ----------------------------------------------------------------------------


async def test_execute_answers_the_output(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    fake_submit.result = result(stdout="hello\n")
    response = await client.post("/execute", json=COMPAT)

    assert response.status_code == 200
    assert response.json() == {"output": "hello\n"}
    [(job, timeout_s)] = fake_submit.calls
    assert job.language == "python"
    assert job.source_code == 'print("hello")'
    assert job.merge_output is True
    assert (job.stdin, job.args, job.files) == ("", [], [])
    assert (job.timeout_s, job.memory_bytes, job.output_max_bytes) == (None, None, None)
    assert timeout_s == 7.0


async def test_execute_output_is_stdout_then_stderr(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    fake_submit.result = result(Status.RUNTIME_ERROR, stdout="out\n", stderr="Traceback\n")
    response = await client.post("/execute", json=COMPAT)
    assert (response.status_code, response.json()) == (200, {"output": "out\nTraceback\n"})


@pytest.mark.parametrize(
    "status", [Status.RUNTIME_ERROR, Status.TIMEOUT, Status.COMPILE_ERROR, Status.OUTPUT_LIMIT]
)
async def test_execute_failing_programs_still_answer_200(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, status: Status
) -> None:
    fake_submit.result = result(status, stderr="what went wrong\n")
    response = await client.post("/execute", json=COMPAT)
    assert (response.status_code, response.json()) == (200, {"output": "what went wrong\n"})


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("python3", "python"),
        ("PY", "python"),
        ("golang", "go"),
        ("node", "javascript"),
        ("js", "javascript"),
        ("c++", "cpp"),
        ("G++", "cpp"),
        ("java17", "java"),
    ],
)
async def test_execute_resolves_aliases(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, alias: str, canonical: str
) -> None:
    response = await client.post("/execute", json={"language": alias, "code": "x"})
    assert response.status_code == 200
    [(job, _)] = fake_submit.calls
    assert (job.language, job.merge_output) == (canonical, True)


async def test_execute_internal_error_is_a_500(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    fake_submit.result = JobResult.internal_error("the sandbox engine failed; the job did not run")
    message = assert_error(await client.post("/execute", json=COMPAT), 500)
    assert message == "the sandbox engine failed; the job did not run"


async def test_execute_internal_error_without_message(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    fake_submit.result = JobResult.internal_error("")
    assert assert_error(await client.post("/execute", json=COMPAT), 500)


@pytest.mark.parametrize(
    ("error", "status"),
    [(BrokerUnavailable("down"), 503), (ResultTimeout("no result within 7 s"), 504)],
)
async def test_execute_submit_errors(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, error: Exception, status: int
) -> None:
    fake_submit.error = error
    assert assert_error(await client.post("/execute", json=COMPAT), status) == str(error)


@pytest.mark.parametrize(
    "content", [b"", b"nope", b"[]", b'"x"', b"null", b'{"language": "python3"', b"\xff"]
)
async def test_execute_body_not_a_json_object(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, content: bytes
) -> None:
    assert "JSON object" in assert_error(await client.post("/execute", content=content), 400)
    assert fake_submit.calls == []


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({}, "language"),
        ({"language": "python3"}, "code"),
        ({"code": "print(1)"}, "language"),
        ({**COMPAT, "code": ""}, "code"),
        ({**COMPAT, "code": " \n\t"}, "code"),
        ({**COMPAT, "code": None}, "code"),
        ({**COMPAT, "code": 1}, "code"),
        ({**COMPAT, "language": ""}, "language"),
        ({**COMPAT, "language": ["python"]}, "language"),
        ({**COMPAT, "stdin": "x"}, "stdin"),
        ({**COMPAT, "source_code": "x"}, "source_code"),
        ({**COMPAT, "version": "3.11"}, "version"),
        ({"language": "python", "source_code": "print(1)"}, "code"),
    ],
)
async def test_execute_bad_body(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, body: dict[str, Any], mentions: str
) -> None:
    assert mentions in assert_error(await client.post("/execute", json=body), 400)
    assert fake_submit.calls == []


@pytest.mark.parametrize("language", ["cobol", "rust", "rs", "gcc", "pythonn"])
async def test_execute_unknown_or_unserved_language(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, language: str
) -> None:
    message = assert_error(
        await client.post("/execute", json={**COMPAT, "language": language}), 400
    )
    assert "not supported" in message
    assert fake_submit.calls == []


async def test_get_on_execute_is_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/execute")
    assert_error(response, 405)
    assert "POST" in response.headers["allow"]


# --- POST /execute: rate limit ----------------------------------------------------------------


async def test_execute_is_rate_limited(
    limited_client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    assert (await limited_client.post("/execute", json=COMPAT)).status_code == 200
    assert (await limited_client.post("/execute", json=COMPAT)).status_code == 200

    response = await limited_client.post("/execute", json=COMPAT)
    assert_error(response, 429)
    assert response.headers["retry-after"] == "10"
    assert len(fake_submit.calls) == 2


async def test_api_and_execute_share_one_budget(
    limited_client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    old = {"language": "python", "source_code": "print(1)"}
    assert (await limited_client.post("/api", json=old)).status_code == 200
    assert (await limited_client.post("/execute", json=COMPAT)).status_code == 200
    assert_error(await limited_client.post("/execute", json=COMPAT), 429)
    assert_error(await limited_client.post("/api", json=old), 429)


async def test_languages_and_health_are_not_rate_limited(
    limited_client: httpx.AsyncClient,
) -> None:
    for _ in range(3):
        await limited_client.post("/execute", json=COMPAT)
    assert (await limited_client.post("/execute", json=COMPAT)).status_code == 429
    for _ in range(10):
        assert (await limited_client.get("/api/languages")).status_code == 200
        assert (await limited_client.get("/health")).status_code == 200
