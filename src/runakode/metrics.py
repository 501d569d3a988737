from prometheus_client import Counter, Gauge, Histogram

# Process-wide, like the process they describe: one service runs per process.
JOBS = Counter(
    "runakode_jobs_total", "Jobs finished by this process's workers", ["language", "status"]
)
QUEUE_WAIT = Histogram(
    "runakode_job_queue_wait_seconds",
    "Time from the API accepting a job to a worker starting it",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RUN_TIME = Histogram(
    "runakode_job_run_seconds",
    "Time a worker spent on a job, sandbox included",
    ["language"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
IN_FLIGHT = Gauge("runakode_jobs_in_flight", "Jobs this process's workers are running now")
RESPONSES = Counter("runakode_api_responses_total", "Answers of the execution endpoints", ["code"])
BROKER_UP = Gauge("runakode_broker_up", "1 when the broker connection is usable")
ENGINE_UP = Gauge("runakode_sandbox_engine_up", "1 when the sandbox engine answers")
REFUSED = Counter(
    "runakode_admission_refusals_total",
    "Runs refused at once (503): overloaded (not answerable in time) or queue_full",
    ["reason"],
)
for _reason in ("overloaded", "queue_full"):
    REFUSED.labels(_reason)
POOL_IDLE = Gauge(
    "runakode_pool_idle_sandboxes", "Sandboxes booted and waiting for a job", ["language"]
)
POOL_TARGET = Gauge(
    "runakode_pool_target_sandboxes",
    "Idle sandboxes the pool aims to keep (recent demand, or the configured count)",
    ["language"],
)
POOL_HITS = Counter(
    "runakode_pool_hits_total", "Jobs that found an idle sandbox of their kind", ["language"]
)
POOL_MISSES = Counter(
    "runakode_pool_misses_total", "Jobs that had to boot their own sandbox", ["language"]
)
SANDBOX_BOOT = Histogram(
    "runakode_sandbox_boot_seconds",
    "Time to boot a sandbox until it is ready for its job",
    buckets=(0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2.5, 5, 10),
)
COMPILE_CACHE = Counter(
    "runakode_compile_cache_total",
    "Compiled jobs by outcome: hit (a kept program ran, not compiled again), miss (compiled)",
    ["language", "result"],
)
