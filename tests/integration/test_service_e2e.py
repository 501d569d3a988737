import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from harness import ServiceProcess

GO_HELLO = 'package main\nimport "fmt"\nfunc main() { fmt.Println("hello from go") }\n'


def run(service: ServiceProcess, language: str, code: str, timeout_s: float = 60) -> dict[str, Any]:
    response = httpx.post(
        f"{service.url}/api",
        json={"language": language, "source_code": code},
        timeout=timeout_s,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_python_hello_world(service: ServiceProcess) -> None:
    result = run(service, "python", 'print("hello")')
    assert result["stdout"] == "hello\n"
    assert result["stderr"] == ""
    assert result["exit_code"] == 0
    assert result["timeout"] is False
    assert result["status"] == "ok"
    assert isinstance(result["exec_time_ms"], int) and result["exec_time_ms"] >= 0


def test_go_hello_world(service: ServiceProcess) -> None:
    result = run(service, "go", GO_HELLO)
    assert (result["stdout"], result["status"], result["exit_code"]) == ("hello from go\n", "ok", 0)


def test_runtime_error_is_a_result(service: ServiceProcess) -> None:
    result = run(service, "python", 'print("partial")\nraise SystemExit(3)')
    assert (result["stdout"], result["exit_code"], result["status"]) == (
        "partial\n",
        3,
        "runtime_error",
    )
    crash = run(service, "python", "1/0")
    assert crash["exit_code"] == 1
    assert "ZeroDivisionError" in crash["stderr"]


def test_go_compile_error_is_reported(service: ServiceProcess) -> None:
    result = run(service, "go", "package main\nfunc main() { undefined() }\n")
    assert result["status"] != "ok"
    assert result["exit_code"] != 0
    assert "undefined" in result["stderr"]


def test_timeout_keeps_output_and_kills_program(service: ServiceProcess) -> None:
    started = time.monotonic()
    result = run(service, "python", 'import time\nprint("started", flush=True)\ntime.sleep(60)')
    assert result["timeout"] is True
    assert result["status"] == "timeout"
    assert result["stdout"] == "started\n"
    # jobTimeout is 3 s in the test config; the sandbox is killed, not merely abandoned.
    assert time.monotonic() - started < 15


def test_output_is_cut_at_output_max_bytes(service: ServiceProcess) -> None:
    result = run(
        service,
        "python",
        'import sys\nsys.stdout.write("x" * 100000)\nprint("tail", file=sys.stderr)',
    )
    assert result["truncated"] is True
    assert 0 < len(result["stdout"]) <= 4096
    assert set(result["stdout"]) == {"x"}


def test_non_utf8_and_nul_bytes_keep_json_valid(service: ServiceProcess) -> None:
    result = run(service, "python", 'import sys\nsys.stdout.buffer.write(b"a\\xff\\xfe\\x00b\\n")')
    assert result["status"] == "ok"
    assert result["stdout"] == "a\ufffd\ufffd\x00b\n"


def test_stdin_is_empty_and_program_cannot_hang_on_it(service: ServiceProcess) -> None:
    result = run(service, "python", "import sys\nprint(repr(sys.stdin.read()))")
    assert result["stdout"] == "''\n"


def test_memory_limit_is_enforced(service: ServiceProcess) -> None:
    result = run(
        service, "python", "blocks = []\nwhile True:\n    blocks.append(bytearray(32 << 20))"
    )
    assert result["status"] != "ok"
    assert result["exit_code"] != 0


def test_bad_requests_get_json_errors(service: ServiceProcess) -> None:
    cases: list[tuple[str, dict[str, Any], int]] = [
        ("POST", {"content": b"not json"}, 400),
        ("POST", {"json": ["python", "print(1)"]}, 400),
        ("POST", {"json": {"language": "python"}}, 400),
        ("POST", {"json": {"language": "python", "source_code": "   "}}, 400),
        ("POST", {"json": {"language": "", "source_code": "print(1)"}}, 400),
        ("POST", {"json": {"language": "cobol", "source_code": "x"}}, 400),
        ("POST", {"content": b"x" * ((1 << 20) + 1)}, 413),
        ("GET", {}, 405),
        ("PUT", {"json": {}}, 405),
    ]
    for method, kwargs, status in cases:
        response = httpx.request(method, f"{service.url}/api", timeout=10, **kwargs)
        assert response.status_code == status, (method, kwargs, response.text)
        assert isinstance(response.json()["error"], str)
        if status == 405:
            assert "POST" in response.headers["allow"]


def test_concurrent_jobs_each_get_their_own_output(service: ServiceProcess) -> None:
    def job(n: int) -> tuple[int, dict[str, Any]]:
        return n, run(service, "python", f"print({n} * 7)")

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(job, range(6)))
    for n, result in results:
        assert result["stdout"] == f"{n * 7}\n"


def test_health_is_ok(service: ServiceProcess) -> None:
    response = httpx.get(f"{service.url}/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
