import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError, PublishError
from pydantic import ValidationError

from runakode import metrics
from runakode.brokers.base import JobHandlers, SubmissionFinished
from runakode.errors import (
    BrokerUnavailable,
    PoisonJob,
    QueueFull,
    ResultTimeout,
    StoreUnavailable,
)
from runakode.models import Job, JobResult, SubmissionTicket

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
RECONNECT_INTERVAL_S = 1.0
# A publish that takes longer than this means the broker is not really there: answer 503 quickly.
PUBLISH_TIMEOUT_S = 2.0
VERSIONS_CACHE_S = 10.0
DEAD_LETTER_MAX_LENGTH = 10_000
# Message types on the job queue; a message without one is a synchronous job.
JOB_TYPE = "job"
SUBMISSION_TYPE = "submission"
# On the reply queue: a submission an API process waits for has ended.
SUBMISSION_FINISHED_TYPE = "submission-finished"
# How long a worker waits before handing back a submission it could not claim (store down).
STORE_RETRY_S = 2.0


class RabbitMQBroker:
    """Jobs on one durable queue; results back on one reply queue per API process."""

    durable = True

    def __init__(self, url: str, queue: str, max_length: int) -> None:
        self._url = url
        self._queue_name = queue
        self._dead_letter_name = f"{queue}.dead"
        # Holds one message, the latest announcement of the workers' language versions.
        self._languages_name = f"{queue}.languages"
        self._versions: dict[str, str | None] = {}
        self._versions_read_at = 0.0
        self._max_length = max_length
        self._reply_queue_name = f"runakode.replies.{uuid.uuid4().hex}"
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._connector: asyncio.Task[None] | None = None
        self._last_error = "not connected yet"
        self._pending: dict[str, asyncio.Future[JobResult]] = {}
        self._reply_queue: AbstractQueue | None = None
        self._job_queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._consume_request: tuple[JobHandlers, int] | None = None
        self._serving_api = False
        self._on_finished: SubmissionFinished | None = None

    async def connect(self) -> None:
        """Connect now if the broker answers; otherwise keep trying in the background."""
        self._connector = asyncio.create_task(self._connect_until_done())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._connector), CONNECT_TIMEOUT_S)

    async def serve_replies(self, on_submission_finished: SubmissionFinished) -> None:
        """Called by a process that submits jobs: it needs a reply queue."""
        self._serving_api = True
        self._on_finished = on_submission_finished
        if self._channel is not None:
            await self._declare_reply_queue(self._channel)

    async def close(self) -> None:
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        for future in self._pending.values():
            future.cancel()
        if self._connection is not None:
            await self._connection.close()

    def health(self) -> str | None:
        if self._connection is None or not self._connection.connected.is_set():
            metrics.BROKER_UP.set(0)
            return f"broker unreachable: {self._last_error}"
        metrics.BROKER_UP.set(1)
        return None

    async def _connect_until_done(self) -> None:
        while True:
            try:
                connection = await aio_pika.connect_robust(
                    self._url,
                    timeout=CONNECT_TIMEOUT_S,
                    reconnect_interval=RECONNECT_INTERVAL_S,
                    client_properties={"connection_name": "runakode"},
                )
            except CONNECTION_EXCEPTIONS as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(RECONNECT_INTERVAL_S)
                continue
            try:
                await self._set_up(connection)
            except CONNECTION_EXCEPTIONS as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"
                await connection.close()
                await asyncio.sleep(RECONNECT_INTERVAL_S)
                continue
            return

    async def _set_up(self, connection: AbstractRobustConnection) -> None:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        assert isinstance(channel, AbstractRobustChannel)
        await channel.declare_queue(
            self._dead_letter_name,
            durable=True,
            arguments={"x-max-length": DEAD_LETTER_MAX_LENGTH},
        )
        await channel.declare_queue(
            self._languages_name, durable=True, arguments={"x-max-length": 1}
        )
        self._job_queue = await channel.declare_queue(
            self._queue_name,
            durable=True,
            arguments={
                "x-max-length": self._max_length,
                "x-overflow": "reject-publish",
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self._dead_letter_name,
            },
        )
        self._connection, self._channel = connection, channel
        if self._serving_api:
            await self._declare_reply_queue(channel)
        if self._consume_request is not None:
            await self._start_consumer(*self._consume_request)

    async def _declare_reply_queue(self, channel: AbstractRobustChannel) -> None:
        if self._reply_queue is not None:
            return
        self._reply_queue = await channel.declare_queue(
            self._reply_queue_name, exclusive=True, auto_delete=True
        )
        await self._reply_queue.consume(self._on_reply, no_ack=True)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        if message.type == SUBMISSION_FINISHED_TYPE:
            if self._on_finished is not None and message.correlation_id:
                self._on_finished(message.correlation_id)
            return
        future = self._pending.get(message.correlation_id or "")
        if future is None or future.done():
            # A late or duplicate result: its request has ended, nobody may receive it.
            return
        try:
            future.set_result(JobResult.model_validate_json(message.body))
        except ValidationError:
            log.warning("discarded a malformed result", extra={"job_id": message.correlation_id})

    async def submit(self, job: Job, timeout_s: float) -> JobResult:
        if self._channel is None or self._reply_queue is None or self.health() is not None:
            raise BrokerUnavailable(self.health() or "broker not ready")
        future: asyncio.Future[JobResult] = asyncio.get_running_loop().create_future()
        self._pending[job.id] = future
        try:
            await self._publish_job(job, timeout_s)
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise ResultTimeout(f"no result within {timeout_s:g} s") from None
        finally:
            self._pending.pop(job.id, None)

    async def _publish_job(self, job: Job, timeout_s: float) -> None:
        assert self._channel is not None and self._reply_queue is not None
        message = aio_pika.Message(
            body=job.model_dump_json().encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            correlation_id=job.id,
            message_id=job.id,
            reply_to=self._reply_queue_name,
            # Once the API has given up, nobody waits for the result: the job must not run.
            expiration=timeout_s,
        )
        await self._publish(self._channel, message)

    async def dispatch(self, tickets: Sequence[SubmissionTicket], *, notify: bool) -> None:
        if self._channel is None or self.health() is not None:
            raise BrokerUnavailable(self.health() or "broker not ready")
        reply_to = self._reply_queue_name if notify and self._reply_queue is not None else None
        channel = self._channel
        messages = [
            aio_pika.Message(
                body=ticket.model_dump_json().encode(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                type=SUBMISSION_TYPE,
                message_id=ticket.token,
                correlation_id=ticket.token,
                reply_to=reply_to,
            )
            for ticket in tickets
        ]
        await asyncio.gather(*(self._publish(channel, message) for message in messages))

    async def _publish(self, channel: AbstractRobustChannel, message: aio_pika.Message) -> None:
        try:
            await asyncio.wait_for(
                channel.default_exchange.publish(message, routing_key=self._queue_name),
                PUBLISH_TIMEOUT_S,
            )
        except PublishError as exc:
            raise BrokerUnavailable(f"job queue missing: {exc}") from None
        except DeliveryError:
            raise QueueFull("the job queue is full, try again later") from None
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            raise BrokerUnavailable(f"broker did not take the job: {type(exc).__name__}") from None

    async def publish_languages(self, versions: dict[str, str | None]) -> None:
        if self._channel is None:
            return
        message = aio_pika.Message(
            body=json.dumps(versions).encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        with contextlib.suppress(TimeoutError, *CONNECTION_EXCEPTIONS):
            await asyncio.wait_for(
                self._channel.default_exchange.publish(message, routing_key=self._languages_name),
                PUBLISH_TIMEOUT_S,
            )

    async def languages(self) -> dict[str, str | None]:
        now = time.monotonic()
        if self._channel is None or now - self._versions_read_at < VERSIONS_CACHE_S:
            return dict(self._versions)
        self._versions_read_at = now
        with contextlib.suppress(TimeoutError, ValueError, *CONNECTION_EXCEPTIONS):
            queue = await self._channel.get_queue(self._languages_name, ensure=False)
            message = await asyncio.wait_for(queue.get(fail=False), PUBLISH_TIMEOUT_S)
            if message is not None:
                # Read, then put back for the next reader: the queue keeps the latest only.
                await message.nack(requeue=True)
                data = json.loads(message.body)
                if isinstance(data, dict):
                    self._versions = {str(k): str(v) if v else None for k, v in data.items()}
        return dict(self._versions)

    async def consume(self, handlers: JobHandlers, concurrency: int) -> None:
        self._consume_request = (handlers, concurrency)
        if self._channel is not None:
            await self._start_consumer(handlers, concurrency)

    async def _start_consumer(self, handlers: JobHandlers, concurrency: int) -> None:
        assert self._channel is not None and self._job_queue is not None
        await self._channel.set_qos(prefetch_count=concurrency)

        async def on_job(message: AbstractIncomingMessage) -> None:
            if message.type == SUBMISSION_TYPE:
                await self._handle_submission(message, handlers)
            elif message.type in (None, "", JOB_TYPE):
                await self._handle_job(message, handlers)
            else:
                log.warning("set aside a message of unknown type %r", message.type)
                await _settle(message.reject(requeue=False))

        self._consumer_tag = await self._job_queue.consume(on_job)

    async def stop_consuming(self) -> None:
        self._consume_request = None
        # Taken before awaiting: a second caller meanwhile must not cancel the same consumer.
        consumer_tag, self._consumer_tag = self._consumer_tag, None
        if self._job_queue is not None and consumer_tag is not None:
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await self._job_queue.cancel(consumer_tag)

    async def _handle_job(self, message: AbstractIncomingMessage, handlers: JobHandlers) -> None:
        try:
            if not message.reply_to or not message.correlation_id:
                raise PoisonJob("job without a reply address")
            job = _parse_job(message.body)
            result = await handlers.run_job(job)
            await self._reply(message, result)
        except PoisonJob as exc:
            log.warning("set aside a poison job: %s", exc.message)
            await _settle(message.reject(requeue=False))
            return
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            log.warning("lost the broker mid-job, it will be delivered again: %r", exc)
            return
        await _settle(message.ack())

    async def _handle_submission(
        self, message: AbstractIncomingMessage, handlers: JobHandlers
    ) -> None:
        try:
            ticket = SubmissionTicket.model_validate_json(message.body)
        except ValidationError as exc:
            log.warning("set aside a malformed submission job: %d problem(s)", exc.error_count())
            await _settle(message.reject(requeue=False))
            return
        try:
            await handlers.run_submission(ticket, redelivered=bool(message.redelivered))
        except StoreUnavailable as exc:
            log.warning("store unavailable, handing the job back: %s", exc.message)
            await asyncio.sleep(STORE_RETRY_S)
            await _settle(message.nack(requeue=True))
            return
        except Exception:
            # The submission stays held under a lease that will run out: the sweeper of some
            # process queues it again, and a submission that keeps failing ends as status 13.
            log.exception("a submission's job failed", extra={"token": ticket.token})
        if message.reply_to:
            await self._notify_finished(message.reply_to, ticket.token)
        await _settle(message.ack())

    async def _notify_finished(self, reply_to: str, token: str) -> None:
        if self._channel is None:
            return
        note = aio_pika.Message(body=b"", type=SUBMISSION_FINISHED_TYPE, correlation_id=token)
        # Best effort: the API process that waited may be gone, and it also polls the store.
        with contextlib.suppress(TimeoutError, PublishError, DeliveryError, *CONNECTION_EXCEPTIONS):
            await asyncio.wait_for(
                self._channel.default_exchange.publish(note, routing_key=reply_to, mandatory=False),
                PUBLISH_TIMEOUT_S,
            )

    async def _reply(self, message: AbstractIncomingMessage, result: JobResult) -> None:
        assert self._channel is not None and message.reply_to
        reply = aio_pika.Message(
            body=result.model_dump_json().encode(),
            content_type="application/json",
            correlation_id=message.correlation_id,
        )
        try:
            await asyncio.wait_for(
                self._channel.default_exchange.publish(reply, routing_key=message.reply_to),
                PUBLISH_TIMEOUT_S,
            )
        except PublishError:
            raise PoisonJob(f"reply queue {message.reply_to!r} does not exist") from None


def _parse_job(body: bytes) -> Job:
    try:
        return Job.model_validate_json(body)
    except ValidationError as exc:
        raise PoisonJob(f"malformed job: {exc.error_count()} problem(s)") from None


async def _settle(operation: Any) -> None:
    # If the connection dropped meanwhile, RabbitMQ requeues the unacknowledged job by itself.
    with contextlib.suppress(*CONNECTION_EXCEPTIONS):
        await operation
