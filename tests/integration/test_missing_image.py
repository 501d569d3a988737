"""A language whose sandbox image is missing: the service starts anyway, every listing says the
language cannot run now, and a run of it gets a clear error; the other languages serve."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from harness import ServiceProcess, free_port, running, service_config

MISSING = "runakode-test-no-such-image"


@pytest.fixture(scope="module", params=["runsc", "docker"])
def service(request: pytest.FixtureRequest, workdir: Path) -> Iterator[ServiceProcess]:
    config = service_config(
        port=free_port(),
        sandboxBackend=request.param,
        supportedLanguages=["python", "lua"],
        sandboxImages={"lua": MISSING},
    )
    with running("runakode", config, workdir) as started:
        started.wait_healthy()
        yield started


def test_listings_report_the_language_unavailable(service: ServiceProcess) -> None:
    native = {e["name"]: e for e in httpx.get(f"{service.url}/api/languages").json()}
    assert native["python"]["available"] and native["python"]["version"]
    assert native["lua"] == {
        "name": "lua",
        "version": None,
        "aliases": ["lua5.4"],
        "available": False,
    }

    judge0 = httpx.get(f"{service.url}/languages").json()
    assert {e["id"] for e in judge0} == {92, 71, 100, 109, 113}  # Python's ids, no Lua (64)
    archived = {e["id"]: e["is_archived"] for e in httpx.get(f"{service.url}/languages/all").json()}
    assert archived[64] is True and archived[71] is False

    runtimes = httpx.get(f"{service.url}/api/v2/runtimes").json()
    assert [rt["language"] for rt in runtimes] == ["python"]


def test_a_run_of_it_is_refused_with_the_reason_and_others_still_run(
    service: ServiceProcess,
) -> None:
    refused = httpx.post(
        f"{service.url}/api", json={"language": "lua", "source_code": "print(1)"}, timeout=30
    )
    assert refused.status_code == 400
    assert MISSING in refused.json()["error"] and "unavailable" in refused.json()["error"]

    judge0 = httpx.post(
        f"{service.url}/submissions", json={"language_id": 64, "source_code": "print(1)"}
    )
    assert judge0.status_code == 422
    assert "unavailable" in judge0.json()["language_id"][0]

    piston = httpx.post(
        f"{service.url}/api/v2/execute",
        json={"language": "lua", "version": "*", "files": [{"content": "print(1)"}]},
    )
    assert piston.status_code == 400 and "runtime is unknown" in piston.json()["message"]

    ran = httpx.post(
        f"{service.url}/api", json={"language": "python", "source_code": "print(6 * 7)"}, timeout=60
    ).json()
    assert (ran["status"], ran["stdout"]) == ("ok", "42\n")
