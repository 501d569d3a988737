"""Compile once, for real: the same C program again runs the kept binary in a fresh gVisor
sandbox (the compile cache's counters in /metrics tell a hit from a compile), with the same
output and the same compile stage; anything else compiles; Judge0's number_of_runs and batches
compile once; a program cannot poison what the next run gets; the kept programs outlive the
worker and are shared by the worker processes of a host."""

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import (
    ServiceProcess,
    free_port,
    running,
    service_config,
    split_deployment,
    submit_judge0,
    wait_judge0,
)

from live import live_run

C_JUDGE0 = 50
GREETER = r"""
#include <stdio.h>
#warning "greeter"
int main(void) {
    char name[64];
    if (scanf("%63s", name) != 1) return 1;
    printf("hello %s\n", name);
    return 0;
}
"""
# Replaces its own binary while it runs (unlink, then a script of the same name): a cache that
# kept anything the program can write would hand the next run this script.
POISONER = r"""
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
int main(void) {
    unlink("main");
    FILE *script = fopen("main", "w");
    if (!script) return 2;
    fputs("#!/bin/sh\necho poisoned\n", script);
    fclose(script);
    chmod("main", 0755);
    puts("original");
    return 0;
}
"""


def cache_config(cache_dir: Path, **overrides: Any) -> dict[str, Any]:
    return service_config(
        port=free_port(),
        supportedLanguages=["c"],
        sandboxImages={"c": "c-runner"},
        sandboxPool={"c": 1},
        jobTimeout="5s",
        compileTimeout="30s",
        compileCache={"dir": str(cache_dir)},
        **overrides,
    )


@pytest.fixture(scope="module")
def service(workdir: Path) -> Iterator[ServiceProcess]:
    cache_dir = workdir / f"compiled-{uuid.uuid4().hex[:8]}"
    with running("runakode", cache_config(cache_dir), workdir) as started:
        started.wait_healthy()
        yield started


def unique(source: str) -> str:
    """A program no earlier test compiled."""
    return f"/* {uuid.uuid4().hex} */{source}"


def counts(service: ServiceProcess, url: str | None = None) -> tuple[int, int]:
    """(hits, misses) of the compile cache, as the process's /metrics tell them."""
    text = httpx.get(f"{url or service.url}/metrics", timeout=10).text

    def value(result: str) -> int:
        pattern = rf'^runakode_compile_cache_total{{language="c",result="{result}"}} (\S+)$'
        match = re.search(pattern, text, re.MULTILINE)
        return int(float(match.group(1))) if match else 0

    return value("hit"), value("miss")


def counted(service: ServiceProcess, before: tuple[int, int]) -> tuple[int, int]:
    hits, misses = counts(service)
    return hits - before[0], misses - before[1]


def run_native(service: ServiceProcess, source: str, stdin: str = "") -> dict[str, Any]:
    body = {"language": "c", "source_code": source, "stdin": stdin}
    response = httpx.post(f"{service.url}/api", json=body, timeout=90)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def run_judge0(service: ServiceProcess, source: str, **body: Any) -> dict[str, Any]:
    response = submit_judge0(service, {"source_code": source, "language_id": C_JUDGE0, **body})
    assert response.status_code == 201, response.text
    return wait_judge0(service, response.json()["token"])


def test_the_same_program_again_is_not_compiled_again(service: ServiceProcess) -> None:
    source = unique(GREETER)
    before = counts(service)
    first = run_native(service, source, "ann")
    again = run_native(service, source, "bob")
    assert counted(service, before) == (1, 1)
    assert (first["status"], first["stdout"]) == ("ok", "hello ann\n"), first
    assert (again["status"], again["stdout"]) == ("ok", "hello bob\n"), again
    # The compile stage is still reported: the one that happened, as it was.
    assert "greeter" in first["compile"]["stderr"]
    assert again["compile"] == first["compile"]


def test_another_source_or_compiler_option_compiles(service: ServiceProcess) -> None:
    source = unique(GREETER)
    before = counts(service)
    run_native(service, source, "ann")
    run_native(service, source + "\n", "ann")
    assert counted(service, before) == (0, 2)
    before = counts(service)
    plain = run_judge0(service, source, stdin="ann")
    plain_again = run_judge0(service, source, stdin="bob")
    with_option = run_judge0(service, source, stdin="cat", compiler_options="-DUNUSED=1")
    assert counted(service, before) == (1, 2)
    assert [r["stdout"] for r in (plain, plain_again, with_option)] == [
        "hello ann\n",
        "hello bob\n",
        "hello cat\n",
    ]
    # Judge0's compile_output of the kept compile is the compile's own.
    assert "greeter" in plain["compile_output"]
    assert plain_again["compile_output"] == plain["compile_output"]


def test_number_of_runs_compiles_once(service: ServiceProcess) -> None:
    before = counts(service)
    result = run_judge0(service, unique(GREETER), stdin="ann", number_of_runs=3)
    assert result["status"]["id"] == 3, result
    assert result["stdout"] == "hello ann\n"
    assert counted(service, before) == (2, 1)


def test_a_batch_of_one_source_with_many_stdins_compiles_once(service: ServiceProcess) -> None:
    source = unique(GREETER)
    names = [f"n{index}" for index in range(6)]
    items = [{"source_code": source, "language_id": C_JUDGE0, "stdin": name} for name in names]
    before = counts(service)
    batch = {"submissions": items}
    created = httpx.post(f"{service.url}/submissions/batch", json=batch, timeout=30)
    assert created.status_code == 201, created.text
    results = [wait_judge0(service, entry["token"]) for entry in created.json()]
    assert [result["stdout"] for result in results] == [f"hello {name}\n" for name in names]
    assert counted(service, before) == (5, 1)


def test_a_program_cannot_poison_the_next_run(service: ServiceProcess) -> None:
    source = unique(POISONER)
    before = counts(service)
    first = run_native(service, source)
    again = run_native(service, source)
    assert counted(service, before) == (1, 1)
    assert first["stdout"] == again["stdout"] == "original\n", (first, again)


def test_a_live_run_streams_the_kept_compile_as_it_streamed_the_first(
    service: ServiceProcess,
) -> None:
    source = unique(GREETER)
    seen = []
    before = counts(service)
    for name in ("ann", "bob"):
        with live_run(service.url, language="c", source_code=source, stdin=name) as run:
            run.send(type="close_stdin")
            result = run.finish()
        assert result["status"] == "ok", run.frames
        assert run.stdout == f"hello {name}\n"
        # Its output as text (a pipe may have cut it in other chunks the first time), and the
        # compile stage's start and end as they were.
        compile_frames = [frame for frame in run.frames if frame.get("stage") == "compile"]
        ends = [frame for frame in compile_frames if frame["type"] != "output"]
        seen.append((run.compile_output, ends))
    assert counted(service, before) == (1, 1)
    assert "greeter" in seen[0][0]
    assert [frame["type"] for frame in seen[0][1]] == ["stage", "exit"]
    assert seen[1] == seen[0]


def test_kept_programs_outlive_the_worker(workdir: Path) -> None:
    config = cache_config(workdir / f"compiled-{uuid.uuid4().hex[:8]}")
    source = unique(GREETER)
    with running("runakode", config, workdir) as first:
        first.wait_healthy()
        assert run_native(first, source, "ann")["stdout"] == "hello ann\n"
        assert counts(first) == (0, 1)
    with running("runakode", config, workdir) as restarted:
        restarted.wait_healthy()
        assert run_native(restarted, source, "bob")["stdout"] == "hello bob\n"
        assert counts(restarted) == (1, 0)


def test_the_worker_processes_of_a_host_share_their_compiles(workdir: Path) -> None:
    config = cache_config(workdir / f"compiled-{uuid.uuid4().hex[:8]}", broker="rabbitmq")
    source = unique(GREETER)
    with split_deployment(config, workdir, workers=2) as deployment:
        for name in ("a", "b", "c", "d", "e", "f"):
            assert run_native(deployment.api, source, name)["stdout"] == f"hello {name}\n"
        per_worker = [
            counts(worker, f"http://127.0.0.1:{worker.config['workerPort']}")
            for worker in deployment.workers
        ]
        assert sum(misses for _, misses in per_worker) == 1, per_worker
        assert sum(hits for hits, _ in per_worker) == 5, per_worker
        # Both took jobs: the one that did not compile ran what the other kept.
        assert all(hits + misses > 0 for hits, misses in per_worker), per_worker
        assert deployment.stop() == [0, 0, 0], deployment.logs()
