import asyncio
import contextlib
import fcntl
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection, RowMapping, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from runakode.errors import ConfigError, StoreUnavailable
from runakode.submissions.record import (
    Judge0Status,
    Submission,
    SubmissionOutcome,
    SubmissionRequest,
)
from runakode.submissions.schema import instances, submissions

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
HEALTH_TIMEOUT_S = 2.0
# Postgres connections per process: the API's requests and the workers' claims share them.
POOL_SIZE = 10
PURGE_BATCH = 500

_REQUEST_COLUMNS = tuple(field.name for field in fields(SubmissionRequest))
_OUTCOME_COLUMNS = tuple(
    field.name for field in fields(SubmissionOutcome) if field.name != "status"
)
FINAL_STATUSES = tuple(status.value for status in Judge0Status if status.final)


def async_url(url: str) -> sa.URL:
    """The configured URL with the asyncio driver each database needs."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"store.url: not a database URL: {url!r}") from None
    drivers = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise ConfigError("store.url: use sqlite:///PATH or postgresql://USER:PASS@HOST/DB")
    return parsed.set(drivername=drivers[backend])


@dataclass(frozen=True)
class Claim:
    """A submission a worker holds: only the holder of this attempt may record its outcome."""

    submission: Submission
    attempt: int


@dataclass(frozen=True)
class Instance:
    id: str
    role: str
    slots: int
    in_flight: int
    started_at: float
    seen_at: float


@dataclass(frozen=True)
class Pending:
    """The bookkeeping of a submission that has not ended, as the sweeper reads it."""

    token: str
    status: Judge0Status
    created_at: float
    dispatched_at: float | None
    dispatched_by: str | None
    claimed_by: str | None
    lease_until: float | None
    attempts: int


class SubmissionStore:
    """Submissions in SQLite (one host) or PostgreSQL (many hosts): one schema, one code path."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @classmethod
    async def open(cls, url: str) -> "SubmissionStore":
        """Connect and bring the schema up to date; ConfigError when that cannot be done."""
        parsed = async_url(url)
        options: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            options.update(pool_size=POOL_SIZE, max_overflow=POOL_SIZE, pool_pre_ping=True)
        engine = create_async_engine(parsed, **options)
        if parsed.get_backend_name() == "sqlite":
            sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        try:
            await store._migrate(parsed)
        except (SQLAlchemyError, OSError) as exc:
            await engine.dispose()
            shown = parsed.render_as_string(hide_password=True)
            raise ConfigError(f"store {shown}: {_describe(exc)}") from None
        return store

    async def close(self) -> None:
        await self._engine.dispose()

    async def _migrate(self, url: sa.URL) -> None:
        async with _migration_lock(url), self._engine.begin() as connection:
            if url.get_backend_name() == "postgresql":
                # Several processes may start at once against one database.
                await connection.execute(sa.text("SELECT pg_advisory_xact_lock(4242424242)"))
            await connection.run_sync(_upgrade)

    async def health(self) -> str | None:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                async with self._engine.connect() as connection:
                    await connection.execute(sa.text("SELECT 1"))
        except (TimeoutError, SQLAlchemyError, OSError) as exc:
            return f"store unreachable: {_describe(exc)}"
        return None

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._engine.begin() as connection:
                yield connection
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailable(f"store unavailable: {_describe(exc)}") from exc

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._engine.connect() as connection:
                yield connection
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailable(f"store unavailable: {_describe(exc)}") from exc

    # --- the API's side -------------------------------------------------------------------

    async def create(
        self, requests: Sequence[SubmissionRequest], request_id: str | None
    ) -> list[Submission]:
        """Store new submissions In Queue, not yet dispatched: they exist before any job does."""
        now = time.time()
        created = [
            Submission(str(uuid.uuid4()), request, Judge0Status.IN_QUEUE, now)
            for request in requests
        ]
        rows = [
            {
                **asdict(submission.request),
                "token": submission.token,
                "status_id": Judge0Status.IN_QUEUE.value,
                "created_at": now,
                "attempts": 0,
                "request_id": request_id,
            }
            for submission in created
        ]
        if rows:
            async with self._write() as connection:
                await connection.execute(submissions.insert(), rows)
        return created

    async def mark_dispatched(self, tokens: Sequence[str], holder: str | None) -> None:
        """The broker has these jobs (in `holder`'s own memory, for the in-process broker)."""
        statement = (
            submissions.update()
            .where(submissions.c.token.in_(tokens))
            .where(submissions.c.status_id == Judge0Status.IN_QUEUE.value)
            .values(dispatched_at=time.time(), dispatched_by=holder)
        )
        async with self._write() as connection:
            await connection.execute(statement)

    async def get(self, token: str) -> Submission | None:
        found = await self.get_many([token])
        return found.get(token)

    async def get_many(self, tokens: Iterable[str]) -> dict[str, Submission]:
        wanted = list(dict.fromkeys(tokens))
        if not wanted:
            return {}
        statement = sa.select(submissions).where(submissions.c.token.in_(wanted))
        async with self._read() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return {row["token"]: _submission(row) for row in rows}

    async def page(self, page: int, per_page: int) -> tuple[list[Submission], int]:
        """Newest first, as Judge0 lists them; and how many there are in all."""
        statement = (
            sa.select(submissions)
            .order_by(submissions.c.created_at.desc(), submissions.c.token)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        async with self._read() as connection:
            total = (
                await connection.execute(sa.select(sa.func.count()).select_from(submissions))
            ).scalar_one()
            rows = (await connection.execute(statement)).mappings().all()
        return [_submission(row) for row in rows], int(total)

    async def delete_finished(self, token: str) -> Submission | None:
        """Delete a submission that has ended; None if it does not exist or has not ended."""
        statement = (
            submissions.delete()
            .where(submissions.c.token == token)
            .where(submissions.c.status_id.in_(FINAL_STATUSES))
            .returning(*submissions.c)
        )
        async with self._write() as connection:
            row = (await connection.execute(statement)).mappings().first()
        return _submission(row) if row is not None else None

    async def count_waiting(self) -> int:
        statement = (
            sa.select(sa.func.count())
            .select_from(submissions)
            .where(submissions.c.status_id == Judge0Status.IN_QUEUE.value)
        )
        async with self._read() as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def counts_by(self, column: str, since: float | None = None) -> dict[int, int]:
        """How many submissions there are per language_id or status_id (or per day: 'day')."""
        key = (
            sa.cast(sa.func.floor(submissions.c.created_at / 86400), sa.Integer)
            if column == "day"
            else submissions.c[column]
        )
        statement = sa.select(key, sa.func.count()).group_by(key)
        if since is not None:
            statement = statement.where(submissions.c.created_at >= since)
        async with self._read() as connection:
            rows = (await connection.execute(statement)).all()
        return {int(value): int(count) for value, count in rows}

    async def size_bytes(self) -> int | None:
        dialect = self._engine.dialect.name
        query = (
            "SELECT pg_database_size(current_database())"
            if dialect == "postgresql"
            else "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
        )
        async with self._read() as connection:
            value = (await connection.execute(sa.text(query))).scalar()
        return int(value) if value is not None else None

    # --- the worker's side ----------------------------------------------------------------

    async def claim(
        self, token: str, holder: str, lease_s: float, *, redelivered: bool
    ) -> Claim | None:
        """Take a submission to run: it must be In Queue, or held under an expired lease, or
        delivered again by the broker (its holder lost the connection). None: not ours to run."""
        now = time.time()
        held_elsewhere = sa.and_(
            submissions.c.status_id == Judge0Status.PROCESSING.value,
            sa.or_(submissions.c.lease_until < now, sa.true() if redelivered else sa.false()),
        )
        statement = (
            submissions.update()
            .where(submissions.c.token == token)
            .where(sa.or_(submissions.c.status_id == Judge0Status.IN_QUEUE.value, held_elsewhere))
            .values(
                status_id=Judge0Status.PROCESSING.value,
                claimed_by=holder,
                lease_until=now + lease_s,
                attempts=submissions.c.attempts + 1,
            )
            .returning(*submissions.c)
        )
        async with self._write() as connection:
            row = (await connection.execute(statement)).mappings().first()
        if row is None:
            return None
        return Claim(_submission(row), int(row["attempts"]))

    async def finish(
        self, claim: Claim, holder: str, outcome: SubmissionOutcome
    ) -> Submission | None:
        """Record how a claimed submission ended. None: another holder has taken it since (a
        redelivered job), so this outcome is not the one recorded."""
        values = {name: getattr(outcome, name) for name in _OUTCOME_COLUMNS}
        statement = (
            submissions.update()
            .where(submissions.c.token == claim.submission.token)
            .where(submissions.c.status_id == Judge0Status.PROCESSING.value)
            .where(submissions.c.claimed_by == holder)
            .where(submissions.c.attempts == claim.attempt)
            .values(
                **values,
                status_id=outcome.status.value,
                finished_at=time.time(),
                claimed_by=None,
                lease_until=None,
            )
            .returning(*submissions.c)
        )
        async with self._write() as connection:
            row = (await connection.execute(statement)).mappings().first()
        return _submission(row) if row is not None else None

    # --- upkeep ---------------------------------------------------------------------------

    async def heartbeat(self, instance: Instance, holding: Iterable[str], lease_s: float) -> None:
        """Say this instance is alive, and extend the lease of the jobs it holds now."""
        row = asdict(instance)
        tokens = list(holding)
        async with self._write() as connection:
            updated = await connection.execute(
                instances.update()
                .where(instances.c.id == instance.id)
                .values(in_flight=instance.in_flight, seen_at=instance.seen_at)
            )
            if updated.rowcount == 0:
                await connection.execute(instances.insert(), [row])
            if tokens:
                await connection.execute(
                    submissions.update()
                    .where(submissions.c.token.in_(tokens))
                    .where(submissions.c.claimed_by == instance.id)
                    .where(submissions.c.status_id == Judge0Status.PROCESSING.value)
                    .values(lease_until=instance.seen_at + lease_s)
                )

    async def leave(self, instance_id: str) -> None:
        async with self._write() as connection:
            await connection.execute(instances.delete().where(instances.c.id == instance_id))

    async def instances(self, seen_since: float) -> list[Instance]:
        statement = sa.select(instances).where(instances.c.seen_at >= seen_since)
        async with self._read() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [Instance(**dict(row)) for row in rows]

    async def forget_instances(self, seen_before: float) -> None:
        async with self._write() as connection:
            await connection.execute(instances.delete().where(instances.c.seen_at < seen_before))

    async def pending(self, limit: int) -> list[Pending]:
        """Submissions that have not ended, oldest first."""
        c = submissions.c
        statement = (
            sa.select(
                c.token,
                c.status_id,
                c.created_at,
                c.dispatched_at,
                c.dispatched_by,
                c.claimed_by,
                c.lease_until,
                c.attempts,
            )
            .where(c.status_id.not_in(FINAL_STATUSES))
            .order_by(c.created_at)
            .limit(limit)
        )
        async with self._read() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [
            Pending(
                token=row["token"],
                status=Judge0Status(row["status_id"]),
                created_at=row["created_at"],
                dispatched_at=row["dispatched_at"],
                dispatched_by=row["dispatched_by"],
                claimed_by=row["claimed_by"],
                lease_until=row["lease_until"],
                attempts=row["attempts"],
            )
            for row in rows
        ]

    async def take_for_dispatch(self, pending: Pending, holder: str | None) -> bool:
        """Put a submission back In Queue as dispatched by us, unless its bookkeeping changed
        since it was read (another process took it, or its holder came back)."""
        c = submissions.c
        statement = (
            submissions.update()
            .where(c.token == pending.token)
            .where(c.status_id == pending.status.value)
            .where(c.attempts == pending.attempts)
            .where(c.dispatched_at.is_not_distinct_from(pending.dispatched_at))
            .where(c.claimed_by.is_not_distinct_from(pending.claimed_by))
            .values(
                status_id=Judge0Status.IN_QUEUE.value,
                dispatched_at=time.time(),
                dispatched_by=holder,
                claimed_by=None,
                lease_until=None,
            )
        )
        async with self._write() as connection:
            return bool((await connection.execute(statement)).rowcount)

    async def mark_undispatched(self, tokens: Sequence[str]) -> None:
        """The broker refused these jobs: a sweeper dispatches them later."""
        statement = (
            submissions.update()
            .where(submissions.c.token.in_(tokens))
            .where(submissions.c.status_id == Judge0Status.IN_QUEUE.value)
            .values(dispatched_at=None, dispatched_by=None)
        )
        async with self._write() as connection:
            await connection.execute(statement)

    async def purge_finished(self, finished_before: float) -> int:
        """Delete ended submissions older than the retention, a batch at a time."""
        c = submissions.c
        batch = (
            sa.select(c.token)
            .where(c.finished_at < finished_before)
            .where(c.status_id.in_(FINAL_STATUSES))
            .limit(PURGE_BATCH)
            .scalar_subquery()
        )
        deleted = 0
        while True:
            async with self._write() as connection:
                result = await connection.execute(submissions.delete().where(c.token.in_(batch)))
            deleted += result.rowcount
            if result.rowcount < PURGE_BATCH:
                return deleted


def _submission(row: RowMapping) -> Submission:
    request = SubmissionRequest(**{name: row[name] for name in _REQUEST_COLUMNS})
    status = Judge0Status(row["status_id"])
    outcome = (
        SubmissionOutcome(status=status, **{name: row[name] for name in _OUTCOME_COLUMNS})
        if status.final
        else None
    )
    return Submission(
        token=row["token"],
        request=request,
        status=status,
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        outcome=outcome,
    )


def _upgrade(connection: Connection) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


@contextlib.asynccontextmanager
async def _migration_lock(url: sa.URL) -> AsyncIterator[None]:
    """Processes of one host starting together on one SQLite file migrate one at a time."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    lock = await asyncio.to_thread(open, f"{url.database}.migrate.lock", "a")
    try:
        # Waited for in a thread: the event loop may hold this very lock in another task.
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        yield
    finally:
        lock.close()  # releases the lock


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and a writer work at once, across the processes of one host.
    # synchronous=NORMAL in WAL mode survives a crash of any process (not of the machine).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _describe(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
