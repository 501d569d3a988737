"""Judge0's API end to end: the real server, real gVisor sandboxes, both deployments:
`runakode` alone on SQLite, and runakode-api with two runakode-worker over RabbitMQ on
PostgreSQL."""

import base64
import io
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from databases import postgres_database
from harness import (
    ServiceProcess,
    free_port,
    service_config,
    split_deployment,
    submit_judge0,
    wait_judge0,
)

PYTHON, C = 71, 50
LANGUAGES = ["python", "c"]


def judge0_config(**overrides: Any) -> dict[str, Any]:
    config = service_config(
        port=free_port(),
        supportedLanguages=LANGUAGES,
        jobTimeout="5s",
        outputMaxBytes=1 << 20,
        callbacks={"allowedNetworks": ["127.0.0.1/32"], "timeout": "2s"},
    )
    config.update(overrides)
    return config


@pytest.fixture(scope="module")
def combined_judge0(workdir: Path) -> Iterator[ServiceProcess]:
    service = ServiceProcess("runakode", judge0_config(), workdir).start()
    service.wait_healthy()
    yield service
    assert service.stop() == 0, service.logs()


@pytest.fixture(scope="module")
def split_judge0(workdir: Path) -> Iterator[ServiceProcess]:
    """runakode-api and two runakode-worker on one PostgreSQL database and RabbitMQ."""
    with postgres_database() as url:
        config = judge0_config(broker="rabbitmq", store={"url": url})
        with split_deployment(config, workdir) as deployment:
            yield deployment.api
            assert deployment.stop() == [0, 0, 0], deployment.logs()


@pytest.fixture(params=["combined", "split"])
def judge0(request: pytest.FixtureRequest) -> ServiceProcess:
    service: ServiceProcess = request.getfixturevalue(f"{request.param}_judge0")
    return service


def run(service: ServiceProcess, **body: Any) -> dict[str, Any]:
    response = submit_judge0(service, body)
    assert response.status_code == 201, response.text
    return wait_judge0(service, response.json()["token"])


def test_accepted_with_measurements(judge0: ServiceProcess) -> None:
    result = run(
        judge0,
        source_code="import sys\nprint(sys.stdin.read().upper(), end='')",
        language_id=PYTHON,
        stdin="hello\n",
        expected_output="HELLO",
    )
    assert result["status"] == {"id": 3, "description": "Accepted"}
    assert result["stdout"] == "HELLO\n"
    assert 0 < float(result["time"]) < 2 and 0 < float(result["wall_time"]) < 5
    # The program's own peak memory (a Python interpreter), not the launcher's on top.
    assert 3_000 < result["memory"] < 40_000
    assert result["exit_code"] == 0 and result["finished_at"].endswith("Z")


@pytest.mark.parametrize(
    ("source", "body", "status", "check"),
    [
        ("print(1)", {"expected_output": "2"}, 4, {"stdout": "1\n"}),
        ("import sys\nprint('x')\nsys.exit(3)", {}, 11, {"exit_code": 3}),
        ("while True: pass", {"cpu_time_limit": 0.5, "cpu_extra_time": 0.2}, 5, {}),
        ("import time\ntime.sleep(10)", {"wall_time_limit": 1}, 5, {}),
        ("x = bytearray(300 << 20)", {"memory_limit": 64000}, 12, {}),
        ("print('y' * 100000)", {"max_file_size": 10}, 8, {"exit_signal": 25}),
    ],
    ids=["wrong-answer", "nzec", "cpu-time", "wall-time", "memory", "output"],
)
def test_python_statuses(
    judge0: ServiceProcess, source: str, body: dict[str, Any], status: int, check: dict[str, Any]
) -> None:
    result = run(judge0, source_code=source, language_id=PYTHON, **body)
    assert result["status"]["id"] == status, result
    for key, value in check.items():
        assert result[key] == value, result
    if status == 12:
        assert (result["message"], result["exit_signal"]) == ("Memory limit exceeded", 9)
    if status == 5:
        assert result["message"].startswith("Time limit exceeded")


def test_c_compile_error_and_signal(judge0: ServiceProcess) -> None:
    broken = run(judge0, source_code="int main( { return 0; }", language_id=C)
    assert broken["status"]["id"] == 6
    assert "error" in broken["compile_output"]
    assert (broken["time"], broken["memory"], broken["stdout"], broken["exit_code"]) == (
        None,
        None,
        None,
        None,
    )
    crash = run(judge0, source_code="int main(){ int *p = 0; return *p; }", language_id=C)
    assert crash["status"] == {"id": 7, "description": "Runtime Error (SIGSEGV)"}
    assert (crash["exit_signal"], crash["message"]) == (11, "Caught fatal signal 11")


def test_compiler_options_and_arguments_are_words_not_shell(judge0: ServiceProcess) -> None:
    source = (
        "#include <stdio.h>\nint main(int c, char **v){\n"
        "#ifdef GREETING\nputs(GREETING);\n#endif\n"
        'for (int i = 1; i < c; i++) printf("[%s]", v[i]);\nputs(""); }'
    )
    result = run(
        judge0,
        source_code=source,
        language_id=C,
        compiler_options="-DGREETING='\"hi there\"'",
        command_line_arguments="one 'two words' $(id) `id` ;ls",
    )
    assert result["status"]["id"] == 3, result
    assert result["stdout"] == "hi there\n[one][two words][$(id)][`id`][;ls]\n"


def zip_of(entries: dict[str, bytes]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return base64.b64encode(buffer.getvalue()).decode()


def test_additional_files_beside_the_source(judge0: ServiceProcess) -> None:
    files = zip_of({"data/input.txt": b"42\n", "helper.py": b"def twice(x):\n    return 2 * x\n"})
    result = run(
        judge0,
        source_code="from helper import twice\nprint(twice(int(open('data/input.txt').read())))",
        language_id=PYTHON,
        additional_files=files,
    )
    assert (result["status"]["id"], result["stdout"]) == (3, "84\n"), result


def test_a_hostile_zip_is_refused_before_anything_is_stored(judge0: ServiceProcess) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/evil", b"x")
    response = submit_judge0(
        judge0,
        {
            "source_code": "print(1)",
            "language_id": PYTHON,
            "additional_files": base64.b64encode(buffer.getvalue()).decode(),
        },
    )
    assert response.status_code == 422
    assert list(response.json()) == ["additional_files"]


def test_wait_and_utf8(judge0: ServiceProcess) -> None:
    response = submit_judge0(
        judge0,
        {"source_code": "print('grüße, 世界')", "language_id": PYTHON},
        "wait=true&fields=stdout,status_id",
    )
    assert response.status_code == 201
    assert response.json() == {"stdout": "grüße, 世界\n", "status_id": 3}


def test_batch_of_test_cases(judge0: ServiceProcess) -> None:
    source = "print(int(input()) ** 2)"
    items = [
        {
            "source_code": source,
            "language_id": PYTHON,
            "stdin": str(n),
            "expected_output": str(n * n),
        }
        for n in range(8)
    ]
    created = httpx.post(f"{judge0.url}/submissions/batch", json={"submissions": items}, timeout=30)
    assert created.status_code == 201
    tokens = [entry["token"] for entry in created.json()]
    for token in tokens:
        wait_judge0(judge0, token)
    read = httpx.get(
        f"{judge0.url}/submissions/batch?tokens={','.join(tokens)}&fields=stdout,status_id",
        timeout=10,
    ).json()["submissions"]
    assert [entry["stdout"] for entry in read] == [f"{n * n}\n" for n in range(8)]
    assert {entry["status_id"] for entry in read} == {3}


class Receiver:
    """A callback receiver on 127.0.0.1 that fails the first request it gets with a 500."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        self.answers = iter([500])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append((self.path, body))
                self.send_response(next(receiver.answers, 200))
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_callbacks_arrive_once_each_and_are_retried_after_a_500(judge0: ServiceProcess) -> None:
    receiver = Receiver()
    try:
        tokens = []
        for name in ("first", "second"):
            response = submit_judge0(
                judge0,
                {
                    "source_code": f"print('{name}')",
                    "language_id": PYTHON,
                    "callback_url": f"{receiver.url}/done/{name}",
                },
            )
            tokens.append(response.json()["token"])
            wait_judge0(judge0, tokens[-1])
        deadline = time.monotonic() + 15
        while len(receiver.bodies) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # nothing more may come
        paths = [path for path, _ in receiver.bodies]
        # The first was refused with a 500 and delivered again; each arrives once.
        assert sorted(paths) == ["/done/first", "/done/first", "/done/second"]
        for path, raw in receiver.bodies:
            body = httpx.Response(200, content=raw).json()
            assert body["token"] == tokens[0 if path.endswith("first") else 1]
            assert base64.b64decode(body["stdout"]) == path.rsplit("/", 1)[1].encode() + b"\n"
            assert body["status"] == {"id": 3, "description": "Accepted"}
    finally:
        receiver.close()


def test_a_callback_to_a_refused_address_is_never_sent(judge0: ServiceProcess) -> None:
    receiver = Receiver()
    try:
        # The service allows 127.0.0.1 only; localhost resolves to it too, but ::1 does not.
        response = submit_judge0(
            judge0,
            {
                "source_code": "print(1)",
                "language_id": PYTHON,
                "callback_url": f"http://[::1]:{receiver.server.server_address[1]}/x",
            },
        )
        wait_judge0(judge0, response.json()["token"])
        time.sleep(1)
        assert receiver.bodies == []
    finally:
        receiver.close()


def test_enable_network_is_refused(judge0: ServiceProcess) -> None:
    response = submit_judge0(
        judge0, {"source_code": "print(1)", "language_id": PYTHON, "enable_network": True}
    )
    assert (response.status_code, response.json()) == (
        422,
        {"enable_network": ["enabling network is not allowed"]},
    )
    info = httpx.get(f"{judge0.url}/config_info", timeout=10).json()
    assert (info["allow_enable_network"], info["enable_network"]) == (False, False)


def test_workers_are_listed(judge0: ServiceProcess) -> None:
    [queue] = httpx.get(f"{judge0.url}/workers", timeout=10).json()
    assert queue["available"] >= 2 and queue["failed"] >= 0
