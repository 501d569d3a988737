from dataclasses import dataclass
from typing import Any

from runakode.config import Settings
from runakode.sandboxes.launcher_protocol import MAX_TASKS

# Judge0's own lower bounds (app/models/submission.rb), fixed in its code, not configurable.
MIN_WALL_TIME_LIMIT_S = 1.0
MIN_MEMORY_LIMIT_KB = 2048


@dataclass(frozen=True)
class Judge0Limits:
    """The Judge0 defaults and maxima this deployment applies: judge0.conf's values, each maximum
    lowered to what the sandbox allows, each default lowered to its maximum.

    Times are seconds and sizes KB (1024 bytes), as Judge0 names them on the wire.
    """

    cpu_time_limit: float
    max_cpu_time_limit: float
    cpu_extra_time: float
    max_cpu_extra_time: float
    wall_time_limit: float
    max_wall_time_limit: float
    min_wall_time_limit: float
    memory_limit: int
    max_memory_limit: int
    stack_limit: int
    max_stack_limit: int
    max_processes_and_or_threads: int
    max_max_processes_and_or_threads: int
    max_file_size: int
    max_max_file_size: int
    number_of_runs: int
    max_number_of_runs: int
    max_extract_size: int


def judge0_limits(settings: Settings) -> Judge0Limits:
    conf = settings.judge0
    # The wall clock is what the sandbox bounds (jobTimeout). CPU time beyond it could only be
    # reached by several threads at once, so the CPU maxima are capped by it too; their sum is
    # bounded by the wall clock, not by validation, so a client sending Judge0's defaults
    # (5 s + 1 s) is never refused for it.
    max_wall = min(conf.max_wall_time_limit, settings.job_timeout_s)
    max_cpu = min(conf.max_cpu_time_limit, max_wall)
    max_extra = min(conf.max_cpu_extra_time, max_wall)
    max_memory = min(conf.max_memory_limit, settings.job_memory_bytes // 1024)
    # A stack larger than the whole memory limit means nothing.
    max_stack = min(conf.max_stack_limit, max_memory)
    max_file_size = min(conf.max_max_file_size, settings.output_max_bytes // 1024)
    # Judge0 allows 120; a sandbox fits fewer (a fork bomb of more brings it down first).
    max_tasks = min(conf.max_max_processes_and_or_threads, MAX_TASKS)
    return Judge0Limits(
        cpu_time_limit=min(conf.cpu_time_limit, max_cpu),
        max_cpu_time_limit=max_cpu,
        cpu_extra_time=min(conf.cpu_extra_time, max_extra),
        max_cpu_extra_time=max_extra,
        wall_time_limit=min(conf.wall_time_limit, max_wall),
        max_wall_time_limit=max_wall,
        # Judge0 requires at least 1 s; an operator cap below that lowers the floor with it
        # rather than leaving no valid value at all.
        min_wall_time_limit=min(MIN_WALL_TIME_LIMIT_S, max_wall),
        memory_limit=min(conf.memory_limit, max_memory),
        max_memory_limit=max_memory,
        stack_limit=min(conf.stack_limit, max_stack),
        max_stack_limit=max_stack,
        max_processes_and_or_threads=min(conf.max_processes_and_or_threads, max_tasks),
        max_max_processes_and_or_threads=max_tasks,
        max_file_size=min(conf.max_file_size, max_file_size),
        max_max_file_size=max_file_size,
        number_of_runs=min(conf.number_of_runs, conf.max_number_of_runs),
        max_number_of_runs=conf.max_number_of_runs,
        max_extract_size=conf.max_extract_size,
    )


def config_info(settings: Settings) -> dict[str, Any]:
    """GET /config_info: v1.13.1's keys in its order; the official SDK needs every one."""
    conf = settings.judge0
    limits = judge0_limits(settings)
    return {
        "maintenance_mode": conf.maintenance_mode,
        "enable_wait_result": conf.enable_wait_result,
        "enable_compiler_options": conf.enable_compiler_options,
        "allowed_languages_for_compile_options": list(conf.allowed_languages_for_compile_options),
        "enable_command_line_arguments": conf.enable_command_line_arguments,
        "enable_submission_delete": conf.enable_submission_delete,
        "enable_callbacks": settings.callbacks.enabled,
        "callbacks_max_tries": settings.callbacks.max_tries,
        "callbacks_timeout": float(settings.callbacks.timeout_s),
        "enable_additional_files": conf.enable_additional_files,
        "max_queue_size": conf.max_queue_size,
        "cpu_time_limit": float(limits.cpu_time_limit),
        "max_cpu_time_limit": float(limits.max_cpu_time_limit),
        "cpu_extra_time": float(limits.cpu_extra_time),
        "max_cpu_extra_time": float(limits.max_cpu_extra_time),
        "wall_time_limit": float(limits.wall_time_limit),
        "max_wall_time_limit": float(limits.max_wall_time_limit),
        "memory_limit": limits.memory_limit,
        "max_memory_limit": limits.max_memory_limit,
        "stack_limit": limits.stack_limit,
        "max_stack_limit": limits.max_stack_limit,
        "max_processes_and_or_threads": limits.max_processes_and_or_threads,
        "max_max_processes_and_or_threads": limits.max_max_processes_and_or_threads,
        "enable_per_process_and_thread_time_limit": False,
        "allow_enable_per_process_and_thread_time_limit": (
            conf.allow_enable_per_process_and_thread_time_limit
        ),
        "enable_per_process_and_thread_memory_limit": False,
        "allow_enable_per_process_and_thread_memory_limit": (
            conf.allow_enable_per_process_and_thread_memory_limit
        ),
        "max_file_size": limits.max_file_size,
        "max_max_file_size": limits.max_max_file_size,
        "number_of_runs": limits.number_of_runs,
        "max_number_of_runs": limits.max_number_of_runs,
        "redirect_stderr_to_stdout": conf.redirect_stderr_to_stdout,
        "max_extract_size": limits.max_extract_size,
        "enable_batched_submissions": conf.enable_batched_submissions,
        "max_submission_batch_size": conf.max_submission_batch_size,
        "submission_cache_duration": 1.0,
        "use_docs_as_homepage": False,
        "allow_enable_network": False,
        "enable_network": False,
    }
