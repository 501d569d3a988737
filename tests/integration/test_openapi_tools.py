"""The API's description against real tools: schemathesis (`run --checks all`, every phase)
finds nothing against the running service, and the description says what the server does."""

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import ServiceProcess, free_port, running, service_config

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Enough cases per operation to cover every phase; each valid run is a real program in a
# real sandbox, so more mostly buys time.
MAX_EXAMPLES = 3


@pytest.fixture(scope="module")
def described(workdir: Path) -> Iterator[ServiceProcess]:
    config = service_config(
        port=free_port(),
        supportedLanguages=["python", "c"],
        maxWorkers=2,
        jobTimeout="5s",
        apiTimeout="60s",
        # Generated callback URLs would be real hosts: no traffic leaves this machine.
        callbacks={"enabled": False},
        judge0={"maxQueueSize": 100000},
    )
    with running("runakode", config, workdir) as service:
        service.wait_healthy()
        yield service


def openapi(service: ServiceProcess) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{service.url}/openapi.json", timeout=30).json()
    return document


# Judge0 reads a submission as Rails does (numbers may come as strings, null or an object means
# the default, unknown keys are ignored) and Piston as Node does; their clients depend on it,
# so bodies outside the documented schema are rightly accepted there: every check but
# negative_data_rejection.
LENIENT_PISTON = [
    "POST /api/v2/execute",
    "POST /api/v2/piston/execute",
    "POST /api/v1/piston/execute",
]
# Last: each accepted submission queues a real run that the service then works through, which
# would make the synchronous routes above wait past their deadline (a 504) meanwhile.
LENIENT_JUDGE0 = ["POST /submissions", "POST /submissions/batch"]
# POST /api refuses two extra files of one name, which JSON Schema cannot say: every check but
# positive_data_acceptance.
DISTINCT_NAMES = ["POST /api"]
# Piston's package manager: runakode's runtimes come with its images, so installing or removing
# one answers 501 (documented; Piston's own clients expect it): every check but
# not_a_server_error.
NOT_IMPLEMENTED = ["POST /api/v2/packages", "DELETE /api/v2/packages"]


def schemathesis(service: ServiceProcess, *options: str) -> str:
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{service.url}/openapi.json",
            "--checks",
            "all",
            *options,
            "--max-examples",
            str(MAX_EXAMPLES),
            # A run waits for a sandbox on a busy two-core host: slow is not wrong here.
            "--max-response-time",
            "120",
            "--request-timeout",
            "120",
            "--seed",
            "20261203",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = run.stdout[run.stdout.rfind("SUMMARY") :]
    print(summary)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert "Tested: " in summary and "Failures:" not in summary, summary
    return summary


# The operations that run with one check left out (each group's reason above), in this order:
# Judge0's last.
ONE_CHECK_LEFT_OUT = [
    (DISTINCT_NAMES, "positive_data_acceptance"),
    (NOT_IMPLEMENTED, "not_a_server_error"),
    (LENIENT_PISTON, "negative_data_rejection"),
    (LENIENT_JUDGE0, "negative_data_rejection"),
]


def named(flag: str, names: list[str]) -> list[str]:
    return [option for name in names for option in (flag, name)]


def test_schemathesis_finds_nothing(described: ServiceProcess) -> None:
    special = [name for names, _ in ONE_CHECK_LEFT_OUT for name in names]
    schemathesis(described, *named("--exclude-name", special))
    for names, check in ONE_CHECK_LEFT_OUT:
        schemathesis(described, *named("--include-name", names), "--exclude-checks", check)


def test_every_operation_documents_its_errors(described: ServiceProcess) -> None:
    document = openapi(described)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert any(code.startswith("2") for code in codes), (method, path)
            if path not in ("/metrics", "/health"):
                assert "401" in codes, (method, path)
            if method == "post":
                assert {"400", "413"} <= codes, (method, path)
    run = document["paths"]["/api"]["post"]["responses"]
    assert {"429", "503", "504"} <= set(run)
    assert run["503"]["headers"]["Retry-After"]
    piston_error = document["paths"]["/api/v2/execute"]["post"]["responses"]["400"]
    assert piston_error["content"]["application/json"]["schema"]["$ref"].endswith("PistonError")


def test_every_operation_has_an_operation_id_of_its_own(described: ServiceProcess) -> None:
    # Client generators name a method after its operationId: two alike make one of them vanish.
    paths = openapi(described)["paths"]
    assert {"post", "delete"} <= set(paths["/api/v2/packages"])
    ids = [operation["operationId"] for item in paths.values() for operation in item.values()]
    assert [name for name, count in Counter(ids).items() if count > 1] == []


def test_constraints_the_server_enforces_are_in_the_schema(described: ServiceProcess) -> None:
    document = openapi(described)
    body = document["paths"]["/api"]["post"]["requestBody"]["content"]["application/json"]
    properties = body["schema"]["properties"]
    assert properties["source_code"]["pattern"] == r"\S"
    assert "python" in properties["language"]["enum"] and "go" not in properties["language"]["enum"]
    judge0 = document["paths"]["/submissions"]["post"]["requestBody"]["content"]
    submission = judge0["application/json"]["schema"]
    # Judge0's maximum (15 s), capped by this service's jobTimeout (5 s).
    assert submission["properties"]["cpu_time_limit"]["maximum"] == 5
    assert "callback_url" not in submission["properties"]  # callbacks are off here
    # What the server does with a blank program: the schema refuses it too.
    refused = httpx.post(
        f"{described.url}/api", json={"language": "python", "source_code": "  "}, timeout=30
    )
    assert refused.status_code == 400


def test_metrics_are_text_and_websockets_are_described(described: ServiceProcess) -> None:
    document = openapi(described)
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    served = httpx.get(f"{described.url}/metrics", timeout=30)
    assert served.headers["content-type"].startswith("text/plain")
    description = document["info"]["description"]
    assert "/api/ws" in description and "/api/v2/connect" in description
    assert "/" not in document["paths"], "the playground page is not API"
