"""The benchmark itself: the service and the baseline, phase by phase, in one run."""

import contextlib
import math
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import (
    compiled,
    cpu,
    docker,
    jobs,
    judge0_batch,
    latency,
    live,
    memory,
    metrics,
    overload,
    plan,
    programs,
    store,
    submissions,
)
from bench.phase import Context, log
from bench.service import Service, free_port

BASELINE = (
    "docker run --rm -i --runtime=runsc --network=none -u 10001:10001 (seccomp: the sandboxes' "
    "profile) IMAGE CMD, one container per job, the language's own image. Interpreted: "
    "python3 -c / node -e / ruby -e / php -r SRC. Compiled: --tmpfs /tmp:exec, sh -c 'cat > "
    "/tmp/m.EXT && cd /tmp && COMPILE && ./m' with SRC on stdin; COMPILE: "
    + "; ".join(f"{p.language}: {p.baseline_compile}" for p in programs.COMPILED.values())
)


class Bench:
    def __init__(
        self,
        the_plan: plan.Plan,
        override: dict[str, Any],
        results_dir: Path,
        native_python: str,
        log_name: str = "service.log",
    ) -> None:
        self.plan = the_plan
        self.config = plan.service_config(override, free_port())
        self.images = plan.images(self.config)
        served = self.config.get("supportedLanguages") or plan.LANGUAGES
        self.languages = [language for language in plan.LANGUAGES if language in served]
        self.results_dir = results_dir
        self.native_python = native_python
        self.log_path = results_dir / log_name
        self.run_id = uuid.uuid4().hex[:6]
        self.baseline = jobs.Baseline(self.images, f"runakode-bench-{self.run_id}-")
        self.results: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def running_service(self, workdir: Path) -> Iterator[Service]:
        service = Service(self.config, workdir, self.log_path)
        try:
            service.start()
            yield service
        finally:
            code = service.stop()
            log(f"service stopped (SIGTERM), exit status {code}")
            self.results["service_exit_status"] = code
            self.results["leaks"] = self._check_leaks(service)

    def _check_leaks(self, service: Service) -> list[str]:
        """What this run left behind: removed now, and reported."""
        baseline = docker.named(self.baseline.name_prefix)
        docker.remove([c.id for c in baseline])
        left = [f"container {c.name}" for c in baseline]
        if service.probe is not None:
            left += service.probe.remove(service.probe.owned())
        if left:
            log(f"WARNING: removed what the run left behind: {left}")
        return left

    # -- phases ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        docker.preflight([self.images[lang] for lang in self.languages])
        self.results.update(self._describe())
        with tempfile.TemporaryDirectory(prefix="runakode-bench-") as tmp:
            mem_before = memory.mem_available_bytes()
            with self.running_service(Path(tmp)) as service:
                healthy_s = service.wait_healthy()
                log(f"service healthy after {healthy_s:.1f} s: pid {service.pid}, {service.url}")
                log(f"sandbox backend: {service.backend}")
                self.results["sandbox_backend"] = service.backend
                self.results["startup"] = {
                    "healthy_s": round(healthy_s, 2),
                    "pool_at_start": metrics.describe(service.pool_state()),
                }
                client = jobs.ServiceClient(service.url)
                try:
                    ctx = Context(self.plan, service, client, self.baseline)
                    self._service_phases(ctx, mem_before)
                finally:
                    client.close()
            self._live_split(Path(tmp))
        log(f"submission store, {self.plan.store_statements} statements of each kind")
        self.results["store"] = store.measure(self.plan.store_statements)
        self.results["runtime_s"] = round(time.monotonic() - started, 1)
        return self.results

    def _service_phases(self, ctx: Context, mem_before: int) -> None:
        """In this order: Python alone first, so that the idle sandboxes measured next are all
        Python's; overload last, since it may leave the pool drained."""
        the_plan, results = self.plan, self.results
        hello = results.setdefault("hello", {})
        if self._serves("python"):
            hello["python"] = latency.hello(ctx, "python")
            self._memory(ctx, mem_before)
        for language in ("javascript", "ruby", "php"):
            if self._serves(language):
                hello[language] = latency.hello(ctx, language)
        if self._serves("python"):
            results["sustained"] = latency.sustained(ctx)
        for program, service_runs, baseline_runs in (
            (programs.CPP, the_plan.cpp_service, the_plan.cpp_baseline),
            (programs.RUST, the_plan.rust_service, the_plan.rust_baseline),
            (programs.GO, the_plan.go_service, the_plan.go_baseline),
        ):
            if self._serves(program.language):
                again = program is programs.CPP
                results[f"{program.language}_hello"] = compiled.measure(
                    ctx, program, service_runs, baseline_runs, again
                )
        if self._serves("python"):
            results["cpu"] = cpu.measure(ctx, self.native_python)
        if self._serves("cpp"):
            results["judge0_batch"] = judge0_batch.measure(
                ctx, the_plan.batch_runs, the_plan.batch_size
            )
        if self._serves("python"):
            self._submissions(ctx)
            self._live_latency(ctx.service, "combined")
            results["overload"] = overload.measure(ctx, the_plan.overload_requests)

    def _serves(self, language: str) -> bool:
        if language not in self.languages:
            log(f"skipped the {language} phases: the service does not serve {language}")
        return language in self.languages

    def _describe(self) -> dict[str, Any]:
        load = os.getloadavg()
        return {
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host": {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load]},
            "service_config": self.config,
            "languages": self.languages,
            "baseline": BASELINE,
            "pace_s": plan.PACE_S,
            "plan": self.plan.to_json(),
        }

    def _memory(self, ctx: Context, mem_before: int) -> None:
        log("memory of idle sandboxes")
        service = ctx.service
        ctx.settle()
        time.sleep(1.0)  # the last sandbox's launcher may still be starting
        assert service.probe is not None
        idle = service.idle_sandboxes()
        sandboxes = memory.measure_sandboxes(service.probe, idle)
        mem_after = memory.mem_available_bytes()
        service_pss = memory.pss_bytes(service.pid)
        drop = mem_before - mem_after
        per_sandbox_drop = (drop - service_pss) / len(idle) if idle else math.nan
        plain = self._plain_container_memory()
        self.results["memory"] = {
            "method": memory.METHOD,
            "pool": metrics.describe(service.pool_state()),
            "sandbox": memory.summary(sandboxes),
            "baseline_plain_container": memory.summary(plain),
            "meminfo": {
                "mem_available_before_mib": round(mem_before / (1 << 20), 1),
                "mem_available_pool_ready_mib": round(mem_after / (1 << 20), 1),
                "service_process_pss_mib": round(service_pss / (1 << 20), 1),
                "per_sandbox_mib": round(per_sandbox_drop / (1 << 20), 1),
            },
        }
        log(f"  {len(idle)} idle sandboxes, mean PSS {memory.summary(sandboxes)['mean_pss_mib']}")

    def _plain_container_memory(self) -> list[memory.ContainerMemory]:
        """One idle `docker run --runtime=runsc` container with python3 waiting on stdin."""
        name = f"{self.baseline.name_prefix}mem"
        cmd = ["docker", "run", "-d", "-i", "--rm", "--runtime=runsc", "--network=none"]
        cmd += ["--security-opt", docker.security_opt()]
        cmd += ["--name", name, "-u", "10001:10001", self.images["python"]]
        cmd += ["python3", "-c", "import sys; sys.stdin.read()"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        try:
            time.sleep(1.0)  # let python3 finish starting
            return memory.measure_containers(docker.named(name))
        finally:
            docker.remove([name])

    def _submissions(self, ctx: Context) -> None:
        level = self.plan.sustained_clients
        count = self.plan.submissions
        log(f"Judge0 submissions: {count} Python hello worlds at c={level}, until all end")
        ctx.settle()
        figures = submissions.measure(ctx.service.url, count, level)
        log(
            f"  accepted {figures['accepted_per_s']:.1f}/s, "
            f"finished {figures['finished']} at {figures['finished_per_s']}/s"
        )
        self.results["submissions"] = figures

    def _live_latency(self, service: Service, mode: str) -> None:
        lines = self.plan.live_lines
        log(
            f"live output, {mode}: {lines} lines written {live.TICK_INTERVAL_S * 1000:.0f} ms apart"
        )
        figures = self.results.setdefault("live", {})
        figures[mode] = live.service_latency(service.url, lines)
        if "baseline" not in figures:
            figures["baseline"] = live.baseline_latency(self.images["python"], lines)
        svc, base = figures[mode], figures["baseline"]
        log(
            f"  write to client p50 {svc['p50_ms']} ms, p99 {svc['p99_ms']} ms "
            f"(docker run pipe: {base['p50_ms']} / {base['p99_ms']} ms)"
        )

    def _live_split(self, workdir: Path) -> None:
        """API and one worker as separate processes over RabbitMQ: latency, then how many
        live sessions that worker holds at once."""
        if "python" not in self.languages:
            return
        count = self.plan.live_sessions
        with live.split_deployment(self.config, workdir, self.results_dir, count) as (api, worker):
            self._live_latency(api, "split")
            log(f"live sessions held by one worker: {count} at once")
            held = live.hold_sessions(api.url, count, worker)
            self.results["live"]["held"] = held
            log(
                f"  {held['waiting_at_once']}/{count} waiting at once after "
                f"{held['all_ready_s']} s, {held['answered']} answered; sandbox PSS mean "
                f"{held['sandbox_memory'].get('mean_pss_mib')} MiB, MemAvailable drop "
                f"{held['mem_available_drop_mib']} MiB"
            )


def default_native_python() -> str:
    """Debian's /usr/bin/python3, the same build the sandbox images install, if present."""
    if os.access("/usr/bin/python3", os.X_OK):
        return "/usr/bin/python3"
    return shutil.which("python3") or "python3"
