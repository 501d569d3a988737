"""Submissions and the instances that serve them.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

Instant = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("token", sa.String(36), primary_key=True),
        sa.Column("source_code", sa.LargeBinary, nullable=False),
        sa.Column("language_id", sa.Integer, nullable=False),
        sa.Column("stdin", sa.LargeBinary),
        sa.Column("expected_output", sa.LargeBinary),
        sa.Column("stdout", sa.LargeBinary),
        sa.Column("status_id", sa.SmallInteger, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("finished_at", Instant),
        sa.Column("time", sa.Float(precision=53)),
        sa.Column("memory", sa.Integer),
        sa.Column("stderr", sa.LargeBinary),
        sa.Column("number_of_runs", sa.Integer, nullable=False),
        sa.Column("cpu_time_limit", sa.Float(precision=53), nullable=False),
        sa.Column("cpu_extra_time", sa.Float(precision=53), nullable=False),
        sa.Column("wall_time_limit", sa.Float(precision=53), nullable=False),
        sa.Column("memory_limit", sa.Integer, nullable=False),
        sa.Column("stack_limit", sa.Integer, nullable=False),
        sa.Column("max_processes_and_or_threads", sa.Integer, nullable=False),
        sa.Column("enable_per_process_and_thread_time_limit", sa.Boolean, nullable=False),
        sa.Column("enable_per_process_and_thread_memory_limit", sa.Boolean, nullable=False),
        sa.Column("max_file_size", sa.Integer, nullable=False),
        sa.Column("compile_output", sa.LargeBinary),
        sa.Column("exit_code", sa.Integer),
        sa.Column("exit_signal", sa.Integer),
        sa.Column("message", sa.Text),
        sa.Column("wall_time", sa.Float(precision=53)),
        sa.Column("compiler_options", sa.String(512)),
        sa.Column("command_line_arguments", sa.String(512)),
        sa.Column("redirect_stderr_to_stdout", sa.Boolean, nullable=False),
        sa.Column("callback_url", sa.Text),
        sa.Column("additional_files", sa.LargeBinary),
        sa.Column("enable_network", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("dispatched_at", Instant),
        sa.Column("dispatched_by", sa.String(200)),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("lease_until", Instant),
        sa.Column("request_id", sa.String(128)),
    )
    op.create_index("ix_submissions_status_id", "submissions", ["status_id"])
    op.create_index("ix_submissions_created_at", "submissions", ["created_at"])
    op.create_index("ix_submissions_finished_at", "submissions", ["finished_at"])
    op.create_table(
        "instances",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("slots", sa.Integer, nullable=False),
        sa.Column("in_flight", sa.Integer, nullable=False),
        sa.Column("started_at", Instant, nullable=False),
        sa.Column("seen_at", Instant, nullable=False),
    )
