"""runakode.judge0.limits: Judge0's defaults and maxima under the sandbox caps; /config_info."""

import json
from typing import Any

from runakode.config import Settings
from runakode.judge0.limits import config_info, judge0_limits
from runakode.sandboxes.launcher_protocol import MAX_TASKS

# Sandbox caps roomy enough that every judge0.conf value applies unchanged.
STOCK = {"jobTimeout": 30, "outputMaxBytes": 8 << 20, "jobMemory": "1g"}


def settings(**values: Any) -> Settings:
    return Settings.model_validate(values)


def test_stock_values_are_judge0_conf_defaults() -> None:
    limits = judge0_limits(settings(**STOCK))

    assert (limits.cpu_time_limit, limits.max_cpu_time_limit) == (5.0, 15.0)
    assert (limits.cpu_extra_time, limits.max_cpu_extra_time) == (1.0, 5.0)
    assert (limits.wall_time_limit, limits.max_wall_time_limit) == (10.0, 20.0)
    assert limits.min_wall_time_limit == 1.0
    assert (limits.memory_limit, limits.max_memory_limit) == (128000, 512000)
    assert (limits.stack_limit, limits.max_stack_limit) == (64000, 128000)
    # The one maximum the sandbox lowers below Judge0's 120 (see the test further down).
    assert (limits.max_processes_and_or_threads, limits.max_max_processes_and_or_threads) == (
        60,
        MAX_TASKS,
    )
    assert (limits.max_file_size, limits.max_max_file_size) == (1024, 4096)
    assert (limits.number_of_runs, limits.max_number_of_runs) == (1, 20)
    assert limits.max_extract_size == 10240


def test_the_wall_cap_is_the_job_timeout_and_bounds_the_cpu_maxima() -> None:
    limits = judge0_limits(settings())  # jobTimeout 10 s

    assert limits.max_wall_time_limit == 10.0
    assert limits.wall_time_limit == 10.0
    assert limits.max_cpu_time_limit == 10.0
    assert limits.cpu_time_limit == 5.0
    # Each maximum is capped on its own: a client sending Judge0's 5 s + 1 s still passes.
    assert limits.max_cpu_extra_time == 5.0


def test_defaults_never_exceed_their_maxima() -> None:
    limits = judge0_limits(settings(jobTimeout=3, jobMemory="64m", outputMaxBytes=100_000))

    assert (limits.wall_time_limit, limits.max_wall_time_limit) == (3.0, 3.0)
    assert (limits.cpu_time_limit, limits.max_cpu_time_limit) == (3.0, 3.0)
    assert (limits.cpu_extra_time, limits.max_cpu_extra_time) == (1.0, 3.0)
    assert (limits.memory_limit, limits.max_memory_limit) == (65536, 65536)
    # A stack above the whole memory limit means nothing.
    assert (limits.stack_limit, limits.max_stack_limit) == (64000, 65536)
    assert (limits.max_file_size, limits.max_max_file_size) == (97, 97)


def test_a_wall_cap_below_one_second_lowers_judge0s_floor_with_it() -> None:
    limits = judge0_limits(settings(jobTimeout="500ms"))

    assert limits.max_wall_time_limit == 0.5
    assert limits.min_wall_time_limit == 0.5
    assert limits.wall_time_limit == 0.5


def test_operator_values_below_the_caps_are_kept() -> None:
    limits = judge0_limits(
        settings(**STOCK, judge0={"maxWallTimeLimit": 12, "wallTimeLimit": 4, "numberOfRuns": 3})
    )

    assert (limits.wall_time_limit, limits.max_wall_time_limit) == (4.0, 12.0)
    assert limits.max_cpu_time_limit == 12.0
    assert limits.number_of_runs == 3


def test_processes_and_threads_are_capped_by_what_the_sandbox_allows() -> None:
    # Judge0's maximum is 120; a sandbox holds at most MAX_TASKS tasks of the program.
    limits = judge0_limits(settings(**STOCK))
    assert limits.max_max_processes_and_or_threads == MAX_TASKS
    assert limits.max_processes_and_or_threads == min(60, MAX_TASKS)


CONFIG_INFO_TYPES: list[tuple[str, type]] = [
    ("maintenance_mode", bool),
    ("enable_wait_result", bool),
    ("enable_compiler_options", bool),
    ("allowed_languages_for_compile_options", list),
    ("enable_command_line_arguments", bool),
    ("enable_submission_delete", bool),
    ("enable_callbacks", bool),
    ("callbacks_max_tries", int),
    ("callbacks_timeout", float),
    ("enable_additional_files", bool),
    ("max_queue_size", int),
    ("cpu_time_limit", float),
    ("max_cpu_time_limit", float),
    ("cpu_extra_time", float),
    ("max_cpu_extra_time", float),
    ("wall_time_limit", float),
    ("max_wall_time_limit", float),
    ("memory_limit", int),
    ("max_memory_limit", int),
    ("stack_limit", int),
    ("max_stack_limit", int),
    ("max_processes_and_or_threads", int),
    ("max_max_processes_and_or_threads", int),
    ("enable_per_process_and_thread_time_limit", bool),
    ("allow_enable_per_process_and_thread_time_limit", bool),
    ("enable_per_process_and_thread_memory_limit", bool),
    ("allow_enable_per_process_and_thread_memory_limit", bool),
    ("max_file_size", int),
    ("max_max_file_size", int),
    ("number_of_runs", int),
    ("max_number_of_runs", int),
    ("redirect_stderr_to_stdout", bool),
    ("max_extract_size", int),
    ("enable_batched_submissions", bool),
    ("max_submission_batch_size", int),
    ("submission_cache_duration", float),
    ("use_docs_as_homepage", bool),
    ("allow_enable_network", bool),
    ("enable_network", bool),
]


def test_config_info_has_every_v1_13_1_key_in_order_with_its_type() -> None:
    info = config_info(settings())

    assert list(info) == [name for name, _ in CONFIG_INFO_TYPES]
    for name, kind in CONFIG_INFO_TYPES:
        value = info[name]
        assert type(value) is kind, (name, value)
    json.dumps(info)


def test_config_info_stock_values() -> None:
    info = config_info(settings(**STOCK))

    assert info["maintenance_mode"] is False
    assert info["enable_wait_result"] is True
    assert info["allowed_languages_for_compile_options"] == []
    assert info["enable_callbacks"] is True
    assert info["callbacks_max_tries"] == 3
    assert info["callbacks_timeout"] == 5.0
    assert info["max_queue_size"] == 100
    assert info["max_cpu_time_limit"] == 15.0
    assert info["max_wall_time_limit"] == 20.0
    assert info["max_memory_limit"] == 512000
    assert info["max_max_file_size"] == 4096
    assert info["enable_batched_submissions"] is True
    assert info["max_submission_batch_size"] == 20
    assert info["submission_cache_duration"] == 1.0
    assert info["use_docs_as_homepage"] is False
    # Programs never get a network here.
    assert info["allow_enable_network"] is False
    assert info["enable_network"] is False


def test_config_info_follows_the_settings() -> None:
    info = config_info(
        settings(
            callbacks={"enabled": False, "maxTries": 5, "timeout": "2s"},
            judge0={
                "maxQueueSize": 7,
                "allowedLanguagesForCompileOptions": ["C", "C++"],
                "redirectStderrToStdout": True,
                "maintenanceMode": True,
                "allowEnablePerProcessAndThreadTimeLimit": False,
            },
        )
    )

    assert info["enable_callbacks"] is False
    assert info["callbacks_max_tries"] == 5
    assert info["callbacks_timeout"] == 2.0
    assert info["max_queue_size"] == 7
    assert info["allowed_languages_for_compile_options"] == ["C", "C++"]
    assert info["redirect_stderr_to_stdout"] is True
    assert info["maintenance_mode"] is True
    assert info["allow_enable_per_process_and_thread_time_limit"] is False
    assert info["max_wall_time_limit"] == 10.0  # capped by jobTimeout
