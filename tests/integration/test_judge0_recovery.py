"""Nothing stays In Queue or Processing forever: processes killed with SIGKILL mid-way, for
real, and every submission still ends, recorded once."""

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from databases import postgres_database
from harness import (
    ServiceProcess,
    free_port,
    service_config,
    split_deployment,
    submit_judge0,
    wait_judge0,
)

SLEEPY = "import time\ntime.sleep({seconds})\nprint('done')"


def started_job_ids(service: ServiceProcess) -> set[str]:
    ids = set()
    for line in service.logs().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "job started":
            ids.add(str(entry.get("job_id")))
    return ids


def test_killed_combined_process_finishes_its_queue_after_a_restart(workdir: Path) -> None:
    config = service_config(port=free_port(), maxWorkers=1, jobTimeout="5s")
    first = ServiceProcess("runakode", config, workdir).start()
    first.wait_healthy()
    body = {"source_code": SLEEPY.format(seconds=0.5), "language_id": 71}
    tokens = [submit_judge0(first, body).json()["token"] for _ in range(10)]
    # One of them is running, the rest wait in the process's own memory: all die with it.
    time.sleep(0.5)
    first.stop(signal.SIGKILL)
    second = ServiceProcess("runakode", config, workdir).start()
    try:
        second.wait_healthy()
        results = [wait_judge0(second, token, timeout_s=120) for token in tokens]
    finally:
        assert second.stop() == 0, second.logs()
    assert [(r["status"]["id"], r["stdout"]) for r in results] == [(3, "done\n")] * 10
    assert "queued lost submissions again" in second.logs()


def test_a_worker_killed_mid_job_the_other_one_finishes_it(workdir: Path) -> None:
    with postgres_database() as url:
        config = service_config(
            port=free_port(), broker="rabbitmq", store={"url": url}, jobTimeout="10s"
        )
        with split_deployment(config, workdir) as deployment:
            api, workers = deployment.api, deployment.workers
            response = submit_judge0(
                api, {"source_code": SLEEPY.format(seconds=4), "language_id": 71}
            )
            token = response.json()["token"]
            deadline = time.monotonic() + 30
            holder: ServiceProcess | None = None
            while holder is None and time.monotonic() < deadline:
                holder = next((w for w in workers if token in started_job_ids(w)), None)
                time.sleep(0.1)
            assert holder is not None, "no worker started the submission"
            running = httpx.get(f"{api.url}/submissions/{token}?fields=status_id", timeout=10)
            assert running.json() == {"status_id": 2}
            holder.stop(signal.SIGKILL)
            survivor = next(w for w in workers if w is not holder)
            result = wait_judge0(api, token, timeout_s=90)
            assert (result["status"]["id"], result["stdout"]) == (3, "done\n"), result
            assert token in started_job_ids(survivor)
            statistics: dict[str, Any] = httpx.get(
                f"{api.url}/statistics?invalidate_cache=true", timeout=10
            ).json()
            # Recorded once: one submission, ended once.
            assert statistics["submissions"]["total"] == 1
