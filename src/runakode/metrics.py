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
