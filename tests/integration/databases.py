"""Databases for tests: a fresh PostgreSQL database per use (dropped after), or a SQLite file."""

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POSTGRES_ADMIN = ("su", "postgres", "-c")
POSTGRES_URL = "postgresql://runakode:runakode@127.0.0.1:5432/{database}"


def _psql(sql: str) -> None:
    subprocess.run(
        [*POSTGRES_ADMIN, f"psql -v ON_ERROR_STOP=1 -qc {_quoted(sql)}"],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def postgres_problem() -> str | None:
    try:
        _psql("SELECT 1")
    except (OSError, subprocess.SubprocessError) as exc:
        return f"PostgreSQL not usable as the postgres user: {exc}"
    return None


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database owned by the runakode role; its URL."""
    name = f"runakode_test_{uuid.uuid4().hex[:12]}"
    _psql(f"CREATE DATABASE {name} OWNER runakode")
    try:
        yield POSTGRES_URL.format(database=name)
    finally:
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def store_url(kind: str, directory: Path) -> Iterator[str]:
    if kind == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{directory}/{uuid.uuid4().hex[:8]}.db"
