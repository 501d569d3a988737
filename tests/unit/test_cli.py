"""The console scripts fail cleanly on bad configuration, before they touch Docker or RabbitMQ."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def run_cli(script: str, *args: str, cwd: Path, env: dict[str, str] | None = None):
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("RUNAKODE_")}
    clean_env.update(env or {})
    return subprocess.run(
        [str(BIN / script), *args],
        cwd=cwd,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], prog: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{prog}: error: ")
    return lines[0]


@pytest.fixture(autouse=True)
def _scripts_installed() -> None:
    for script in ("runakode", "runakode-api", "runakode-worker"):
        assert (BIN / script).exists(), f"{script} is not installed in {BIN}"


def test_missing_config_file(tmp_path: Path) -> None:
    result = run_cli("runakode", "--config", "/nonexistent.yaml", cwd=tmp_path)
    line = assert_clean_failure(result, "runakode")
    assert "cannot read config file /nonexistent.yaml" in line


def test_unknown_key_in_config(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("port: 8080\ncolour: blue\n")
    result = run_cli("runakode", "--config", "bad.yaml", cwd=tmp_path)
    line = assert_clean_failure(result, "runakode")
    assert "colour: unknown key" in line


def test_bad_environment_variable(tmp_path: Path) -> None:
    result = run_cli("runakode", cwd=tmp_path, env={"RUNAKODE_PORT": "not-a-port"})
    line = assert_clean_failure(result, "runakode")
    assert "port" in line


def test_api_refuses_the_memory_broker(tmp_path: Path) -> None:
    (tmp_path / "memory.yaml").write_text("broker: memory\n")
    result = run_cli("runakode-api", "--config", "memory.yaml", cwd=tmp_path)
    line = assert_clean_failure(result, "runakode-api")
    assert "broker: rabbitmq" in line


def test_worker_refuses_the_memory_broker(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("broker: memory\n")  # picked up from the cwd
    result = run_cli("runakode-worker", cwd=tmp_path)
    line = assert_clean_failure(result, "runakode-worker")
    assert "broker: rabbitmq" in line
