from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

# The tables as the queries see them; migrations/ creates them. A unit test checks that the
# two agree.
metadata = MetaData()

# Epoch seconds in double precision: one portable type for every instant, compared in SQL.
Instant = Float(precision=53)

submissions = Table(
    "submissions",
    metadata,
    Column("token", String(36), primary_key=True),
    # Judge0's columns, in its order. What a program reads or writes is bytes: with
    # base64_encoded=true it may be anything.
    Column("source_code", LargeBinary, nullable=False),
    Column("language_id", Integer, nullable=False),
    Column("stdin", LargeBinary),
    Column("expected_output", LargeBinary),
    Column("stdout", LargeBinary),
    Column("status_id", SmallInteger, nullable=False),
    Column("created_at", Instant, nullable=False),
    Column("finished_at", Instant),
    Column("time", Float(precision=53)),
    Column("memory", Integer),
    Column("stderr", LargeBinary),
    Column("number_of_runs", Integer, nullable=False),
    Column("cpu_time_limit", Float(precision=53), nullable=False),
    Column("cpu_extra_time", Float(precision=53), nullable=False),
    Column("wall_time_limit", Float(precision=53), nullable=False),
    Column("memory_limit", Integer, nullable=False),
    Column("stack_limit", Integer, nullable=False),
    Column("max_processes_and_or_threads", Integer, nullable=False),
    Column("enable_per_process_and_thread_time_limit", Boolean, nullable=False),
    Column("enable_per_process_and_thread_memory_limit", Boolean, nullable=False),
    Column("max_file_size", Integer, nullable=False),
    Column("compile_output", LargeBinary),
    Column("exit_code", Integer),
    Column("exit_signal", Integer),
    Column("message", Text),
    Column("wall_time", Float(precision=53)),
    Column("compiler_options", String(512)),
    Column("command_line_arguments", String(512)),
    Column("redirect_stderr_to_stdout", Boolean, nullable=False),
    Column("callback_url", Text),
    Column("additional_files", LargeBinary),
    Column("enable_network", Boolean, nullable=False),
    # Our own bookkeeping: who holds the job, so that a lost one is found and queued again.
    Column("attempts", Integer, nullable=False, server_default="0"),
    # When the job was last handed to the broker; NULL: not yet (or the broker refused it).
    Column("dispatched_at", Instant),
    # The instance whose in-process queue holds the job (memory broker); NULL for RabbitMQ.
    Column("dispatched_by", String(200)),
    Column("claimed_by", String(200)),
    Column("lease_until", Instant),
    Column("request_id", String(128)),
    Index("ix_submissions_status_id", "status_id"),
    Index("ix_submissions_created_at", "created_at"),
    Index("ix_submissions_finished_at", "finished_at"),
)

# Every process that serves submissions, API or worker, with its last sign of life.
instances = Table(
    "instances",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("slots", Integer, nullable=False),
    Column("in_flight", Integer, nullable=False),
    Column("started_at", Instant, nullable=False),
    Column("seen_at", Instant, nullable=False),
)
