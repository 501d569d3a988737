"""The benchmark itself: the service and the baseline, phase by phase, in one run."""

import contextlib
import functools
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

from bench import docker, jobs, live, memory, plan, store, submissions
from bench.load import Job, Series, concurrent, sequential
from bench.service import Service, free_port
from bench.stats import percentile


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _python_version(argv: list[str]) -> str:
    done = subprocess.run(
        [*argv, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.stdout.strip() or f"? ({done.stderr.strip()[:100]})"


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
        self.languages = list(self.config["supportedLanguages"])
        self.pool_target = plan.pool_target(self.config)
        self.results_dir = results_dir
        self.native_python = native_python
        self.log_path = results_dir / log_name
        self.run_id = uuid.uuid4().hex[:6]
        self.baseline = jobs.Baseline(self.images, f"runakode-bench-{self.run_id}-")
        self.results: dict[str, Any] = {}
        self.service: Service | None = None
        self.client: jobs.ServiceClient | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def running_service(self, workdir: Path) -> Iterator[Service]:
        service = Service(self.config, workdir, self.log_path)
        self.service = service
        try:
            service.start()
            _log(f"service started: pid {service.pid}, {service.url}, backend {service.backend}")
            yield service
        finally:
            code = service.stop()
            _log(f"service stopped (SIGTERM), exit status {code}")
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
            _log(f"WARNING: removed what the run left behind: {left}")
        return left

    def refill(self) -> None:
        """Let the pool refill, so that a phase neither starts short nor competes with boots."""
        assert self.service is not None
        started = time.monotonic()
        count = self.service.wait_pool(self.pool_target)
        if count < self.pool_target:
            _log(f"  pool at {count}/{self.pool_target} after {time.monotonic() - started:.1f} s")

    # -- phases ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        docker.preflight([self.images[lang] for lang in self.languages])
        self.results.update(self._describe())
        with tempfile.TemporaryDirectory(prefix="runakode-bench-") as tmp:
            mem_before = memory.mem_available_bytes()
            with self.running_service(Path(tmp)) as service:
                healthy_s = service.wait_healthy()
                self.client = jobs.ServiceClient(service.url)
                try:
                    pool = service.wait_pool(self.pool_target)
                    fill_s = time.monotonic() - started
                    _log(f"healthy after {healthy_s:.1f} s; pool {pool}/{self.pool_target}")
                    self.results["startup"] = {
                        "healthy_s": round(healthy_s, 2),
                        "pool_full_s": round(fill_s, 2),
                        "pool_size": pool,
                    }
                    self._memory(service, mem_before)
                    self._hello()
                    self._throughput()
                    if "go" in self.languages:
                        self._go()
                    self._cpu()
                    self._submissions(service)
                    self._live_latency(service, "combined")
                finally:
                    self.client.close()
            self._live_split(Path(tmp))
        _log(f"submission store, {self.plan.store_statements} statements of each kind")
        self.results["store"] = store.measure(self.plan.store_statements)
        self.results["runtime_s"] = round(time.monotonic() - started, 1)
        return self.results

    def _describe(self) -> dict[str, Any]:
        load = os.getloadavg()
        return {
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host": {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load]},
            "service_config": self.config,
            "sandbox_backend": plan.backend(self.config),
            "baseline": "docker run --rm -i --runtime=runsc --network=none -u 10001:10001 IMAGE "
            "CMD, one container per job (python: python3 -c SRC; go: --tmpfs /tmp:exec, "
            "sh -c 'cat > /tmp/m.go && cd /tmp && go build -o m m.go && ./m' with SRC on stdin)",
            "plan": {
                "hello_service": self.plan.hello_service,
                "hello_baseline": self.plan.hello_baseline,
                "levels": list(self.plan.levels),
                "jobs_service": self.plan.jobs_service,
                "jobs_baseline": {str(k): v for k, v in self.plan.jobs_baseline.items()},
                "go_service": self.plan.go_service,
                "go_baseline": self.plan.go_baseline,
                "cpu_runs": self.plan.cpu_runs,
                "cpu_loop": self.plan.cpu_loop,
                "warmups": self.plan.warmups,
            },
        }

    def _memory(self, service: Service, mem_before: int) -> None:
        _log("memory of idle sandboxes")
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
            "sandbox": memory.summary(sandboxes),
            "baseline_plain_container": memory.summary(plain),
            "meminfo": {
                "mem_available_before_mib": round(mem_before / (1 << 20), 1),
                "mem_available_pool_full_mib": round(mem_after / (1 << 20), 1),
                "service_process_pss_mib": round(service_pss / (1 << 20), 1),
                "per_sandbox_mib": round(per_sandbox_drop / (1 << 20), 1),
            },
        }

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

    def _series(self, label: str, job: Job, count: int, concurrency: int = 1) -> Series:
        series = concurrent(job, count, concurrency) if concurrency > 1 else sequential(job, count)
        errors = f", {len(series.errors)} errors" if series.errors else ""
        _log(
            f"  {label}: {count} jobs at c={concurrency}: p50 {series.p(50):.0f} ms, "
            f"{series.throughput:.2f} jobs/s{errors}"
        )
        return series

    def _warm(self, job: Job) -> None:
        for _ in range(self.plan.warmups):
            job()

    def _hello(self) -> None:
        _log("python hello world, sequential")
        assert self.client is not None
        svc_job = functools.partial(self.client.run, "python", jobs.PY_HELLO)
        base_job = functools.partial(self.baseline.python, jobs.PY_HELLO)
        self._warm(svc_job)
        self.refill()
        svc = self._series("service", svc_job, self.plan.hello_service)
        self.refill()
        self._warm(base_job)
        base = self._series("baseline", base_job, self.plan.hello_baseline)
        self.results["python_hello"] = {"service": svc.to_json(), "baseline": base.to_json()}

    def _throughput(self) -> None:
        _log("python hello world, throughput by concurrency")
        assert self.client is not None
        svc_job = functools.partial(self.client.run, "python", jobs.PY_HELLO)
        base_job = functools.partial(self.baseline.python, jobs.PY_HELLO)
        levels: dict[str, Any] = {}
        for level in self.plan.levels:
            self.refill()
            svc = self._series("service", svc_job, self.plan.jobs_service, level)
            self.refill()
            count = self.plan.jobs_baseline.get(level, max(level, 4))
            base = self._series("baseline", base_job, count, level)
            levels[str(level)] = {"service": svc.to_json(), "baseline": base.to_json()}
        self.results["throughput"] = levels

    def _go(self) -> None:
        _log("go hello world (compile + run), sequential")
        assert self.client is not None
        svc_job = functools.partial(self.client.run, "go", jobs.GO_HELLO)
        base_job = functools.partial(self.baseline.go, jobs.GO_HELLO)
        self.refill()
        self._warm(svc_job)
        self.refill()
        svc = self._series("service", svc_job, self.plan.go_service)
        self.refill()
        self._warm(base_job)
        base = self._series("baseline", base_job, self.plan.go_baseline)
        self.results["go_hello"] = {"service": svc.to_json(), "baseline": base.to_json()}

    def _cpu(self) -> None:
        """The same loop in a sandbox (via the service) and natively, runs interleaved."""
        _log(f"cpu-bound loop ({self.plan.cpu_loop:,} iterations), sandbox vs native")
        assert self.client is not None
        source = jobs.cpu_program(self.plan.cpu_loop)
        checksum = str(jobs.cpu_checksum(self.plan.cpu_loop))
        sandbox_version = self._sandbox_python_version()
        runs: dict[str, list[tuple[float, float]]] = {"sandbox": [], "native": []}
        exec_ms: list[float] = []
        errors: list[str] = []
        for _ in range(self.plan.cpu_runs):
            self.refill()
            got = self.client.run("python", source, expect=None)
            native = jobs.native_python(self.native_python, source)
            for side, outcome in (("sandbox", got), ("native", native)):
                timed = _loop_ms(outcome, checksum)
                if timed is None:
                    errors.append(f"{side}: {outcome.error or outcome.stdout[:80]}")
                else:
                    runs[side].append(timed)
            if got.ok and got.exec_time_ms is not None:
                exec_ms.append(got.exec_time_ms)
        figures: dict[str, Any] = {}
        for side, pairs in runs.items():
            wall = [w for w, _ in pairs]
            cpu = [c for _, c in pairs]
            figures[f"{side}_ms"] = [round(w, 1) for w in wall]
            figures[f"{side}_cpu_ms"] = [round(c, 1) for c in cpu]
            figures[f"{side}_best_ms"] = round(min(wall, default=math.nan), 1)
            figures[f"{side}_median_ms"] = round(percentile(wall, 50), 1)
            figures[f"{side}_best_cpu_ms"] = round(min(cpu, default=math.nan), 1)
        _log(
            f"  sandbox best {figures['sandbox_best_ms']:.0f} ms, "
            f"native best {figures['native_best_ms']:.0f} ms (wall)"
        )
        self.results["cpu"] = {
            "loop_iterations": self.plan.cpu_loop,
            "timing": "wall time (perf_counter) around the loop, inside the program, best of the "
            "runs (noise on a shared host only adds time); *_cpu_ms: process_time, for reference",
            "native_interpreter": self.native_python,
            "native_python_version": _python_version([self.native_python]),
            "sandbox_python_version": sandbox_version,
            **figures,
            "sandbox_exec_time_ms": exec_ms,
            "errors": errors,
        }

    def _submissions(self, service: Service) -> None:
        level = 8
        _log(f"Judge0 submissions: {self.plan.submissions} at c={level}, then until all end")
        self.refill()
        figures = submissions.measure(service.url, self.plan.submissions, level)
        _log(
            f"  accepted {figures['accepted_per_s']:.1f}/s, "
            f"finished {figures['finished']} at {figures['finished_per_s']}/s"
        )
        self.results["submissions"] = figures

    def _live_latency(self, service: Service, mode: str) -> None:
        lines = self.plan.live_lines
        _log(
            f"live output, {mode}: {lines} lines written {live.TICK_INTERVAL_S * 1000:.0f} ms apart"
        )
        figures = self.results.setdefault("live", {})
        figures[mode] = live.service_latency(service.url, lines)
        if "baseline" not in figures:
            figures["baseline"] = live.baseline_latency(self.images["python"], lines)
        svc, base = figures[mode], figures["baseline"]
        _log(
            f"  write to client p50 {svc['p50_ms']} ms, p99 {svc['p99_ms']} ms "
            f"(docker run pipe: {base['p50_ms']} / {base['p99_ms']} ms)"
        )

    def _live_split(self, workdir: Path) -> None:
        """API and one worker as separate processes over RabbitMQ: latency, then how many
        live sessions that worker holds at once."""
        count = self.plan.live_sessions
        config = {**self.config, "sandboxPool": {"python": 2}}
        with live.split_deployment(config, workdir, self.results_dir, count) as (api, worker):
            self._live_latency(api, "split")
            _log(f"live sessions held by one worker: {count} at once")
            held = live.hold_sessions(api.url, count, worker)
            self.results["live"]["held"] = held
            _log(
                f"  {held['waiting_at_once']}/{count} waiting at once after "
                f"{held['all_ready_s']} s, {held['answered']} answered; sandbox PSS mean "
                f"{held['sandbox_memory'].get('mean_pss_mib')} MiB, MemAvailable drop "
                f"{held['mem_available_drop_mib']} MiB"
            )

    def _sandbox_python_version(self) -> str:
        assert self.client is not None
        got = self.client.run(
            "python", "import platform; print(platform.python_version())", expect=None
        )
        return got.stdout.strip() or f"? ({got.error[:100]})"


def _loop_ms(outcome: jobs.Outcome, checksum: str) -> tuple[float, float] | None:
    """(wall ms, cpu ms) that the program printed, if it ran right."""
    parts = outcome.stdout.split()
    if not outcome.ok or len(parts) != 3 or parts[2] != checksum:
        return None
    try:
        return float(parts[0]), float(parts[1])
    except ValueError:
        return None


def default_native_python() -> str:
    """Debian's /usr/bin/python3, the same build the sandbox images install, if present."""
    if os.access("/usr/bin/python3", os.X_OK):
        return "/usr/bin/python3"
    return shutil.which("python3") or "python3"
