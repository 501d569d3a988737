"""Piston's HTTP API against the real service: routes, Piston's behaviour per route, lenient
bodies, and the real clients (PyPI pistonapi, npm piston-client driven by node) unchanged."""

import base64
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import ServiceProcess, free_port, running, service_config, split_deployment
from pistonapi import PistonAPI, PistonError

REPO = Path(__file__).resolve().parents[2]
CLIENT_DIR = REPO / "build" / "piston-client"
OUTPUT_MAX_BYTES = 4096
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


@pytest.fixture(scope="module", params=["combined", "split"])
def piston(workdir: Path, request: pytest.FixtureRequest) -> Iterator[ServiceProcess]:
    """The API the clients talk to: in one process, or split from its worker over RabbitMQ."""
    config = service_config(
        port=free_port(),
        supportedLanguages=["python", "c", "java"],
        sandboxPool={"python": 2, "c": 1, "java": 1},
        jobTimeout="5s",
        outputMaxBytes=OUTPUT_MAX_BYTES,
    )
    if request.param == "split":
        with split_deployment({**config, "broker": "rabbitmq"}, workdir, workers=1) as deployed:
            yield deployed.api
            assert deployed.stop() == [0, 0], deployed.logs()
        return
    with running("runakode", config, workdir) as service:
        service.wait_healthy()
        yield service
        assert service.stop() == 0, service.logs()


def execute(
    service: ServiceProcess, body: dict[str, Any], path: str = "/api/v2/execute"
) -> dict[str, Any]:
    response = httpx.post(f"{service.url}{path}", json=body, timeout=60)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def python(code: str, **fields: Any) -> dict[str, Any]:
    return {"language": "python", "version": "3", "files": [{"content": code}], **fields}


# --- routes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v2/runtimes", "/api/v2/piston/runtimes"])
def test_runtimes_list_real_versions(piston: ServiceProcess, path: str) -> None:
    runtimes = httpx.get(f"{piston.url}{path}", timeout=10).json()
    assert [rt["language"] for rt in runtimes] == ["python", "c", "java"]
    for runtime in runtimes:
        assert SEMVER.match(runtime["version"]) and runtime["version"] != "0.0.0", runtime
    assert runtimes[1]["runtime"] == "gcc"
    assert "py" in runtimes[0]["aliases"]


def test_packages_and_v1_versions(piston: ServiceProcess) -> None:
    packages = httpx.get(f"{piston.url}/api/v2/packages", timeout=10).json()
    assert {p["language"] for p in packages} == {"python", "c", "java"}
    assert all(p["installed"] for p in packages)
    refused = httpx.post(f"{piston.url}/api/v2/packages", json={}, timeout=10)
    assert (refused.status_code, refused.json()) == (
        501,
        {"message": "package management is not supported"},
    )
    versions = httpx.get(f"{piston.url}/api/v1/piston/versions", timeout=10).json()
    assert {v["name"] for v in versions} == {"python3", "c", "java"}


# --- execute ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v2/execute", "/api/v2/piston/execute"])
def test_execute_a_program(piston: ServiceProcess, path: str) -> None:
    # The pauses let each write arrive on its own: `output` keeps the order of arrival.
    code = (
        "import sys, time\n"
        "print(repr(sys.stdin.read()), sys.argv[1:], flush=True)\n"
        "time.sleep(0.1)\n"
        "print('oops', file=sys.stderr, flush=True)\n"
        "time.sleep(0.1)\n"
        "print('after', flush=True)\n"
        "sys.exit(3)\n"
    )
    answer = execute(piston, python(code, stdin="in", args=["a", "b c"]), path)
    assert answer["language"] == "python" and SEMVER.match(answer["version"])
    assert "compile" not in answer
    run = answer["run"]
    # Piston ends stdin with a newline.
    assert run["stdout"] == "'in\\n' ['a', 'b c']\nafter\n"
    assert run["stderr"] == "oops\n"
    assert run["output"] == "'in\\n' ['a', 'b c']\noops\nafter\n"
    assert (run["code"], run["signal"], run["status"]) == (3, None, "RE")
    assert run["message"] == "Exited with error status 3"
    assert run["wall_time"] > 0 and run["cpu_time"] >= 0
    # Bytes: a Python interpreter uses megabytes.
    assert run["memory"] > 1 << 20


def test_compiled_files_without_extensions(piston: ServiceProcess) -> None:
    body = {
        "language": "c",
        "version": "*",
        "files": [
            {
                "name": "prog",
                "content": '#include <stdio.h>\n#include "defs.h"\n'
                'int main(void){ printf("%d\\n", ANSWER); return 0; }\n',
            },
            {"name": "defs.h", "content": "#define ANSWER 42\n"},
        ],
    }
    answer = execute(piston, body)
    assert answer["compile"]["code"] == 0, answer
    assert answer["run"]["stdout"] == "42\n"


def test_java_class_name_need_not_match_the_file(piston: ServiceProcess) -> None:
    code = (
        "public class Solution {\n"
        "  public static void main(String[] args) {\n"
        '    System.out.println("java " + args.length);\n'
        "  }\n"
        "}\n"
    )
    body = {"language": "java", "version": "*", "files": [{"name": "x", "content": code}]}
    answer = execute(piston, {**body, "args": ["1", "2"]})
    assert answer["run"]["stdout"] == "java 2\n", answer


def test_compile_failure_is_copied_into_run(piston: ServiceProcess) -> None:
    answer = execute(piston, {"language": "c", "version": "*", "files": [{"content": "int main("}]})
    assert answer["run"] == answer["compile"]
    assert answer["run"]["status"] == "RE" and answer["run"]["code"] != 0
    assert "error" in answer["run"]["output"]


def test_binary_and_nested_files(piston: ServiceProcess) -> None:
    code = (
        "print(open('blob.bin','rb').read().hex(), open('data.hex','rb').read(),"
        " open('dir/sub/note.txt').read(), open('file2.code').read())"
    )
    files = [
        {"name": "main", "content": code},
        {
            "name": "blob.bin",
            "content": base64.b64encode(b"\x00\x01\xfe").decode(),
            "encoding": "base64",
        },
        {"content": "anonymous"},
        {"name": "data.hex", "content": "6869", "encoding": "hex"},
        {"name": "dir/sub/note.txt", "content": "nested"},
    ]
    answer = execute(piston, {"language": "python", "version": "*", "files": files})
    assert answer["run"]["stdout"] == "0001fe b'hi' nested anonymous\n", answer


@pytest.mark.parametrize(
    ("code", "fields", "status", "signal"),
    [
        ("import time\ntime.sleep(30)", {"run_timeout": 500}, "TO", "SIGKILL"),
        ("while True: pass", {"run_cpu_time": 500}, "TO", "SIGKILL"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", {}, "SG", "SIGSEGV"),
        ("import sys\nwhile True: sys.stdout.write('x' * 1000)", {}, "OL", "SIGKILL"),
        ("import sys\nwhile True: sys.stderr.write('x' * 1000)", {}, "EL", "SIGKILL"),
    ],
)
def test_statuses(
    piston: ServiceProcess, code: str, fields: dict[str, Any], status: str, signal: str
) -> None:
    run = execute(piston, python(code, **fields))["run"]
    assert (run["status"], run["signal"], run["code"]) == (status, signal, None), run
    if status in ("OL", "EL"):
        assert len(run["stdout"] + run["stderr"]) <= OUTPUT_MAX_BYTES


def test_memory_limit_in_bytes(piston: ServiceProcess) -> None:
    code = "blocks = []\nwhile True: blocks.append(bytearray(8 << 20))"
    run = execute(piston, python(code, run_memory_limit=64 << 20))["run"]
    assert run["status"] in ("SG", "RE"), run
    # Bytes, not Piston's kilobytes: the program got well past 32 MiB before it was stopped.
    assert run["memory"] > 32 << 20, run


# --- bodies as the clients send them ----------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "text/plain;charset=UTF-8"])
def test_json_body_whatever_the_content_type(
    piston: ServiceProcess, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(
        f"{piston.url}/api/v2/execute",
        content=json.dumps(python("print('plain')")),
        headers=headers,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["run"]["stdout"] == "plain\n"


def test_form_body(piston: ServiceProcess) -> None:
    form = {
        "language": "python",
        "version": "3",
        "files": "import sys\nprint(input(), sys.argv[1:])",
        "stdin": "formed",
        "args": ["x", "y"],
    }
    response = httpx.post(f"{piston.url}/api/v2/execute", data=form, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["run"]["stdout"] == "formed ['x', 'y']\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (python("x", version="9.x"), "python-9.x runtime is unknown"),
        ({"language": "python", "version": "*"}, "files is required as an array"),
        (
            python("x", run_timeout=999_999),
            "run_timeout cannot exceed the configured limit of 5000",
        ),
        (
            {
                "language": "python",
                "files": [{"name": "../../etc/x", "content": "x"}, {"content": "y"}],
            },
            'File path "../../etc/x" tries to escape parent directory: ../../etc/x',
        ),
    ],
)
def test_errors_have_pistons_messages(
    piston: ServiceProcess, body: dict[str, Any], message: str
) -> None:
    response = httpx.post(f"{piston.url}/api/v2/execute", json=body, timeout=60)
    assert (response.status_code, response.json()) == (400, {"message": message})


def test_unknown_path_and_bad_json(piston: ServiceProcess) -> None:
    missing = httpx.get(f"{piston.url}/api/v2/nothing", timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    bad = httpx.post(f"{piston.url}/api/v2/execute", content=b"{nope", timeout=10)
    assert bad.status_code == 400 and list(bad.json()) == ["message"]


def test_v1_execute(piston: ServiceProcess) -> None:
    body = {"language": "python3", "source": "print(input())", "stdin": "legacy"}
    response = httpx.post(f"{piston.url}/api/v1/piston/execute", json=body, timeout=60)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["ran"] is True and answer["language"] == "python3"
    assert answer["output"] == answer["stdout"] == "legacy"


# --- the real clients -------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["/api/v2", "/api/v2/piston"])
def test_pistonapi_client(piston: ServiceProcess, layout: str) -> None:
    client = PistonAPI(endpoint=f"{piston.url}{layout}")
    runtimes = client.runtimes
    assert set(runtimes) == {"python", "c", "java"}
    version = runtimes["python"]["version"]
    output = client.execute(
        "python", version, "import sys\nprint(input(), sys.argv[1:])", stdin="hi", args=["a"]
    )
    assert output == "hi ['a']\n"
    c_output = client.execute("c", "*", '#include <stdio.h>\nint main(){puts("c ok");}')
    assert c_output == "c ok\n"
    with pytest.raises(PistonError, match=r"cobol-1\.0\.0 runtime is unknown"):
        client.execute("cobol", "1.0.0", "x")


@pytest.fixture(scope="module")
def piston_client() -> Path:
    """The npm package, installed once (scripts/install-piston-client.sh)."""
    subprocess.run(
        ["bash", str(REPO / "scripts" / "install-piston-client.sh"), str(CLIENT_DIR)],
        check=True,
        timeout=300,
    )
    return CLIENT_DIR / "node_modules" / "piston-client" / "index.js"


NODE_DRIVER = """
import piston from "%s";
const client = piston({server: process.env.PISTON_SERVER});
const runtimes = await client.runtimes();
const byName = await client.execute("python", "import sys\\nprint('node', sys.argv[1:])");
const byAlias = await client.execute("py", "print(input())", {stdin: "alias"});
const compiled = await client.execute({
  language: "c", files: [{content: '#include <stdio.h>\\nint main(){puts("c");}'}], args: [],
});
const failed = await client.execute("c", "int main(");
console.log(JSON.stringify({runtimes, byName, byAlias, compiled, failed}));
"""


def test_piston_client_from_npm(piston: ServiceProcess, piston_client: Path) -> None:
    completed = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_DRIVER % piston_client.as_uri()],
        env={**os.environ, "PISTON_SERVER": piston.url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    answers = json.loads(completed.stdout)
    assert [rt["language"] for rt in answers["runtimes"]] == ["python", "c", "java"]
    # Its defaults, sent unasked: args ["1", "2", "3"], run_timeout 3000, memory -1.
    assert answers["byName"]["run"]["stdout"] == "node ['1', '2', '3']\n", answers["byName"]
    # Called with an alias it sends no version.
    assert answers["byAlias"]["run"]["stdout"] == "alias\n", answers["byAlias"]
    assert answers["compiled"]["run"]["stdout"] == "c\n", answers["compiled"]
    assert answers["failed"]["run"]["status"] == "RE"
    assert answers["failed"]["run"] is not None and "error" in answers["failed"]["run"]["stderr"]
