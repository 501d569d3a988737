import contextlib
import signal
import time
from pathlib import Path

import httpx
import pytest
from harness import ServiceProcess, free_port, running, sandboxes_of, service_config

SLEEPER = 'import time\nprint("working", flush=True)\ntime.sleep(30)'


def test_rate_limit_answers_429_with_retry_after(workdir: Path) -> None:
    config = service_config(port=free_port(), rateLimit={"requestsPerSecond": 1, "burst": 2})
    with running("runakode", config, workdir) as service:
        service.wait_healthy()
        statuses = []
        for _ in range(4):
            response = httpx.post(f"{service.url}/api", json={}, timeout=10)
            statuses.append(response.status_code)
        # Rate limiting happens before the body is read: the empty body only costs a 400.
        assert statuses[:2] == [400, 400]
        assert 429 in statuses[2:]
        limited = response if response.status_code == 429 else None
        assert limited is not None and int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]
        for _ in range(10):
            assert httpx.get(f"{service.url}/health", timeout=5).status_code == 200


def test_api_timeout_answers_504_and_kills_the_job(workdir: Path) -> None:
    config = service_config(port=free_port(), apiTimeout="1s", jobTimeout="20s")
    with running("runakode", config, workdir) as service:
        service.wait_healthy()
        started = time.monotonic()
        response = httpx.post(
            f"{service.url}/api", json={"language": "python", "source_code": SLEEPER}, timeout=30
        )
        assert response.status_code == 504
        assert response.json()["error"]
        assert time.monotonic() - started < 5


def test_api_without_broker_answers_503_at_once(workdir: Path) -> None:
    dead_broker = {"url": f"amqp://guest:guest@127.0.0.1:{free_port()}/", "queue": "nowhere"}
    config = service_config(port=free_port(), broker="rabbitmq", rabbitmq=dead_broker)
    with running("runakode-api", config, workdir) as api:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{api.url}/health", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert health.status_code == 503
        assert health.json()["status"] == "degraded"
        assert "broker" in health.json()["reason"]
        started = time.monotonic()
        response = httpx.post(
            f"{api.url}/api", json={"language": "python", "source_code": "print(1)"}, timeout=10
        )
        assert response.status_code == 503
        assert response.json()["error"]
        assert time.monotonic() - started < 2


def test_stopping_the_service_removes_its_sandboxes(workdir: Path) -> None:
    config = service_config(port=free_port(), jobTimeout="30s", shutdownGrace="1s")
    service = ServiceProcess("runakode", config, workdir).start()
    service.wait_healthy()
    assert service.proc is not None
    pid = service.proc.pid
    with httpx.Client(timeout=30) as client:
        with contextlib.suppress(httpx.ReadTimeout):
            client.post(
                f"{service.url}/api",
                json={"language": "python", "source_code": SLEEPER},
                timeout=3,
            )
        assert sandboxes_of(pid), "the sleeping job should have a live sandbox"
    assert service.stop() == 0, service.logs()
    assert sandboxes_of(pid) == []


@pytest.mark.alone
def test_a_restarted_service_removes_sandboxes_its_crashed_predecessor_left(
    workdir: Path,
) -> None:
    config = service_config(port=free_port(), jobTimeout="30s")
    crashed = ServiceProcess("runakode", config, workdir).start()
    crashed.wait_healthy()
    assert crashed.proc is not None
    with contextlib.suppress(httpx.ReadTimeout):
        httpx.post(
            f"{crashed.url}/api",
            json={"language": "python", "source_code": SLEEPER},
            timeout=3,
        )
    left = sandboxes_of(crashed.proc.pid)
    assert left, "the sleeping job should have a live sandbox"
    crashed.stop(signal.SIGKILL)
    # Docker keeps every container. runsc's idle sandboxes end with the pipe from their worker;
    # the one running the sleeper stays until its program ends.
    after = sandboxes_of(crashed.proc.pid)
    assert after and set(after) <= set(left), "nobody cleaned up after a SIGKILL yet"
    with running("runakode", service_config(port=free_port()), workdir) as successor:
        successor.wait_healthy()
        assert sandboxes_of(crashed.proc.pid) == []


def test_split_entry_points_refuse_the_memory_broker(workdir: Path) -> None:
    for program in ("runakode-api", "runakode-worker"):
        service = ServiceProcess(program, service_config(broker="memory"), workdir).start()
        assert service.proc is not None
        assert service.proc.wait(30) != 0
        logs = service.logs()
        assert "rabbitmq" in logs and "Traceback" not in logs
