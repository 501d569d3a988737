import asyncio
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import postgres_problem
from harness import (
    QUEUE_PREFIX,
    STORES_DIR,
    ServiceProcess,
    delete_queues,
    free_port,
    queues_starting_with,
    service_config,
    split_deployment,
)

REQUIRED_IMAGES = ("python-runner", "go-runner")


def _docker_problem() -> str | None:
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{json .Runtimes}}"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker not usable: {exc}"
    if info.returncode != 0:
        return f"no Docker engine answers: {info.stderr.strip()}"
    if "runsc" not in info.stdout:
        return "the Docker engine has no runsc runtime"
    for image in REQUIRED_IMAGES:
        found = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
        if found.returncode != 0:
            return f"sandbox image {image} missing"
    return None


def _rabbitmq_problem() -> str | None:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError as exc:
        return f"RabbitMQ not reachable on 127.0.0.1:5672: {exc}"
    return None


@pytest.fixture(scope="session", autouse=True)
def real_services() -> None:
    # Integration tests never skip: a missing service is a failure (run `make setup`).
    problems = [p for p in (_docker_problem(), _rabbitmq_problem(), postgres_problem()) if p]
    if problems:
        pytest.fail("integration services missing: " + "; ".join(problems), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def no_queues_left(real_services: None) -> Iterator[None]:
    """Every queue the tests declare starts with QUEUE_PREFIX: once the processes that use them
    have stopped (the other session fixtures end first), delete them all."""
    yield
    asyncio.run(delete_queues(queues_starting_with(QUEUE_PREFIX)))


@pytest.fixture(scope="session", autouse=True)
def no_stores_left(real_services: None) -> Iterator[None]:
    """The run's stores and compile caches (one directory, made when harness is imported) go
    once the processes that write them have stopped."""
    yield
    shutil.rmtree(STORES_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def combined(workdir: Path) -> Iterator[ServiceProcess]:
    service = ServiceProcess("runakode", service_config(port=free_port()), workdir).start()
    service.wait_healthy()
    yield service
    assert service.stop() == 0, service.logs()


@pytest.fixture(scope="session")
def split(workdir: Path) -> Iterator[ServiceProcess]:
    """runakode-api and runakode-worker as separate processes over the real RabbitMQ."""
    config = service_config(port=free_port(), broker="rabbitmq")
    with split_deployment(config, workdir, workers=1) as deployment:
        yield deployment.api
        assert deployment.stop() == [0, 0], deployment.logs()


@pytest.fixture(params=["combined", "split"])
def service(request: pytest.FixtureRequest) -> ServiceProcess:
    """The same API tests run against both brokers."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]
