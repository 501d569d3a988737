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
    FieldValue,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError, PublishError
from pydantic import ValidationError

from runakode import metrics
from runakode.brokers.base import JobHandlers, SubmissionFinished
from runakode.brokers.sessions import KEEPALIVE_INTERVAL_S, QueuedSession
from runakode.errors import (
    BrokerUnavailable,
    PoisonJob,
    QueueFull,
    ResultTimeout,
    RunakodeError,
    StoreUnavailable,
)
from runakode.models import Job, JobResult, SubmissionTicket
from runakode.sandboxes.base import ProgramInput, program_input
from runakode.streaming import (
    SESSION_CONTROL,
    SESSION_EVENT,
    Cancel,
    KeepAlive,
    SessionControl,
    SessionEvent,
    SessionFinished,
    SessionStarted,
    program_control,
)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
RECONNECT_INTERVAL_S = 1.0
# A publish that takes longer than this means the broker is not really there: answer 503 quickly.
PUBLISH_TIMEOUT_S = 2.0
# A worker's results and live events: on a host busy booting sandboxes a publish may take
# seconds (seen with 64 live sessions on 2 cores); giving up early would lose the result.
WORKER_PUBLISH_TIMEOUT_S = 15.0
VERSIONS_CACHE_S = 10.0
DEAD_LETTER_MAX_LENGTH = 10_000
# Message types on the job queue; a message without one is a synchronous job.
JOB_TYPE = "job"
SUBMISSION_TYPE = "submission"
# On the reply queue: a submission an API process waits for has ended.
SUBMISSION_FINISHED_TYPE = "submission-finished"
# How long a worker waits before handing back a submission it could not claim (store down).
STORE_RETRY_S = 2.0
# A live session: the job on the job queue, its events on the API's reply queue, and the
# client's stdin and signals on the running worker's own control queue (named in the header
# of its first event). One queue per process, none per session or per chunk.
SESSION_TYPE = "session"
SESSION_EVENT_TYPE = "session-event"
SESSION_CONTROL_TYPE = "session-control"
CONTROL_QUEUE_HEADER = "x-control-queue"


class UndeliverableResult(RunakodeError):
    """The process that asked for a job's result is gone (its reply queue with it)."""


class _WorkerSession:
    """A live session this worker runs: the program's input, and the task to cancel."""

    def __init__(self) -> None:
        self.controls: ProgramInput = program_input()
        self.task: asyncio.Task[None] | None = None

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


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
        # API side: sessions by id. Worker side: the sessions it runs, and its control queue.
        self._sessions: dict[str, QueuedSession] = {}
        self._running_sessions: dict[str, _WorkerSession] = {}
        self._control_queue_name = f"runakode.controls.{uuid.uuid4().hex}"
        self._control_queue: AbstractQueue | None = None
        self._late_cancels: set[asyncio.Task[None]] = set()

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
        if message.type == SESSION_EVENT_TYPE:
            self._on_session_event(message)
            return
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

    def _on_session_event(self, message: AbstractIncomingMessage) -> None:
        session = self._sessions.get(message.correlation_id or "")
        if session is None:
            # Closed here already. If it was closed before a worker took it, the worker has
            # only now said where to send the cancellation.
            control_queue = (message.headers or {}).get(CONTROL_QUEUE_HEADER)
            if isinstance(control_queue, str) and message.correlation_id:
                self._cancel_late(control_queue, message.correlation_id)
            return
        try:
            event = SESSION_EVENT.validate_json(message.body)
        except ValidationError:
            session.fail("a worker sent a malformed event")
            return
        if isinstance(event, SessionStarted):
            control_queue = (message.headers or {}).get(CONTROL_QUEUE_HEADER)
            if isinstance(control_queue, str):
                session.control_route = control_queue
        session.deliver(event)

    async def open_session(self, job: Job, start_timeout_s: float) -> QueuedSession:
        if self._channel is None or self._reply_queue is None or self.health() is not None:
            raise BrokerUnavailable(self.health() or "broker not ready")
        channel = self._channel

        async def send_control(control: SessionControl) -> None:
            # Only called once the session has started, so its worker has named the queue.
            if session.control_route is not None:
                await self._send_control(channel, session.control_route, job.id, control)

        async def cancel() -> None:
            if session.control_route is not None:
                await self._send_cancel(channel, session.control_route, job.id)

        session = QueuedSession(
            start_timeout_s,
            send_control,
            cancel,
            on_close=lambda: self._forget_session(job.id),
        )
        self._sessions[job.id] = session
        message = aio_pika.Message(
            body=job.model_dump_json().encode(),
            content_type="application/json",
            type=SESSION_TYPE,
            correlation_id=job.id,
            message_id=job.id,
            reply_to=self._reply_queue_name,
            # Nobody waits for a session no worker took in time: it must not start.
            expiration=start_timeout_s,
        )
        try:
            await self._publish(channel, message)
        except BaseException:
            self._sessions.pop(job.id, None)
            raise
        return session

    def _cancel_late(self, control_queue: str, session_id: str) -> None:
        if self._channel is None:
            return
        task = asyncio.create_task(self._send_cancel(self._channel, control_queue, session_id))
        self._late_cancels.add(task)
        task.add_done_callback(self._late_cancels.discard)

    async def _send_cancel(
        self, channel: AbstractRobustChannel, queue: str, session_id: str
    ) -> None:
        """Best effort: a worker that does not hear it ends the run at its deadline."""
        with contextlib.suppress(BrokerUnavailable):
            await self._send_control(channel, queue, session_id, Cancel())

    def _forget_session(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def _send_control(
        self, channel: AbstractRobustChannel, queue: str, session_id: str, control: SessionControl
    ) -> None:
        message = aio_pika.Message(
            body=control.model_dump_json().encode(),
            content_type="application/json",
            type=SESSION_CONTROL_TYPE,
            correlation_id=session_id,
        )
        try:
            await asyncio.wait_for(
                channel.default_exchange.publish(message, routing_key=queue), PUBLISH_TIMEOUT_S
            )
        except (PublishError, DeliveryError):
            # The worker's control queue is gone with the worker: its keep-alives stop too.
            return
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            raise BrokerUnavailable(
                f"broker did not take the input: {type(exc).__name__}"
            ) from None

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
        if self._control_queue is None:
            self._control_queue = await self._channel.declare_queue(
                self._control_queue_name, exclusive=True, auto_delete=True
            )
            await self._control_queue.consume(self._on_control, no_ack=True)

        async def on_job(message: AbstractIncomingMessage) -> None:
            if message.type == SUBMISSION_TYPE:
                await self._handle_submission(message, handlers)
            elif message.type == SESSION_TYPE:
                await self._handle_session(message, handlers)
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
        """Decode, run, deliver: each step fails in its own way."""
        try:
            job = _decode_job(message)
        except PoisonJob as exc:
            log.warning("set aside a poison job: %s", exc.message)
            await _settle(message.reject(requeue=False))
            return
        poison: PoisonJob | None = None
        try:
            result = await handlers.run_job(job)
        except PoisonJob as exc:
            # As in the in-process broker, the client gets the reason now (not a time-out);
            # the job is also set aside, for the operator to see.
            poison, result = exc, JobResult.internal_error(exc.message)
        try:
            await self._reply(message, result)
        except UndeliverableResult as exc:
            log.warning("dropped a result: %s", exc.message, extra={"job_id": job.id})
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            log.warning("lost the broker before replying, the job will run again: %r", exc)
            return
        if poison is not None:
            log.warning("set aside a poison job: %s", poison.message)
            await _settle(message.reject(requeue=False))
            return
        await _settle(message.ack())

    async def _handle_session(
        self, message: AbstractIncomingMessage, handlers: JobHandlers
    ) -> None:
        """A live run: its events to the API as they come; it holds a prefetch slot until it
        ends. Never run twice: a redelivered session (its first worker died) is answered with
        an error, since the client's input went to the dead one."""
        try:
            job = _decode_job(message)
        except PoisonJob as exc:
            log.warning("set aside a poison session: %s", exc.message)
            await _settle(message.reject(requeue=False))
            return
        assert message.reply_to is not None
        reply_to, session_id = message.reply_to, job.id
        if message.redelivered:
            lost = JobResult.internal_error("the worker running this session stopped")
            with contextlib.suppress(UndeliverableResult, TimeoutError, *CONNECTION_EXCEPTIONS):
                await self._send_event(reply_to, session_id, SessionFinished(result=lost))
            await _settle(message.ack())
            return
        running = self._running_sessions[session_id] = _WorkerSession()
        running.task = asyncio.create_task(self._pump_session(handlers, job, running, reply_to))
        try:
            await asyncio.wait([running.task])
        finally:
            self._running_sessions.pop(session_id, None)
            running.cancel()
        if running.task.cancelled():
            # Its client cancelled it (then nobody reads this), or the worker is stopping past
            # its grace period: the client hears why at once instead of waiting for silence.
            stopped = SessionFinished(result=JobResult.internal_error("the worker stopped the run"))
            with contextlib.suppress(UndeliverableResult, TimeoutError, *CONNECTION_EXCEPTIONS):
                await self._send_event(reply_to, session_id, stopped)
        await _settle(message.ack())

    async def _pump_session(
        self, handlers: JobHandlers, job: Job, running: _WorkerSession, reply_to: str
    ) -> None:
        last_sent = time.monotonic()

        async def keep_alive() -> None:
            """Also how a silent run learns that its client's API process is gone."""
            while True:
                # At most an interval after the last event, not a whole interval after a check
                # that found one just sent (which let ten seconds pass in silence).
                await asyncio.sleep(last_sent + KEEPALIVE_INTERVAL_S - time.monotonic())
                if time.monotonic() - last_sent < KEEPALIVE_INTERVAL_S:
                    continue
                try:
                    await self._send_event(reply_to, job.id, KeepAlive())
                except (UndeliverableResult, TimeoutError, *CONNECTION_EXCEPTIONS):
                    log.info("a live session's client is gone; ending its run")
                    running.cancel()
                    return

        keeper = asyncio.create_task(keep_alive())
        try:
            async with contextlib.aclosing(handlers.run_session(job, running.controls)) as events:
                async for event in events:
                    await self._send_event(reply_to, job.id, event)
                    last_sent = time.monotonic()
        except UndeliverableResult:
            log.info("a live session's client is gone; ending its run", extra={"job_id": job.id})
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            log.warning("lost the broker mid-session, ending its run: %r", exc)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await keeper

    async def _send_event(self, reply_to: str, session_id: str, event: SessionEvent) -> None:
        assert self._channel is not None
        headers: dict[str, FieldValue] | None = (
            {CONTROL_QUEUE_HEADER: self._control_queue_name}
            if isinstance(event, SessionStarted)
            else None
        )
        message = aio_pika.Message(
            body=event.model_dump_json().encode(),
            content_type="application/json",
            type=SESSION_EVENT_TYPE,
            correlation_id=session_id,
            headers=headers,
        )
        await self._publish_to_asker(message, reply_to)

    async def _on_control(self, message: AbstractIncomingMessage) -> None:
        running = self._running_sessions.get(message.correlation_id or "")
        if running is None:
            return  # the session has ended
        try:
            control = SESSION_CONTROL.validate_json(message.body)
        except ValidationError:
            log.warning("discarded a malformed session control")
            return
        item = program_control(control)
        if item is None:
            running.cancel()
            return
        try:
            running.controls.put_nowait(item)
        except asyncio.QueueFull:
            # Over RabbitMQ the client cannot be made to wait: a client that sends far more
            # stdin than its program reads ends its session.
            log.warning("a live session's input overflowed; ending its run")
            running.cancel()

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
        await self._publish_to_asker(reply, message.reply_to)

    async def _publish_to_asker(self, message: aio_pika.Message, reply_to: str) -> None:
        """A result or event to the API process that asked; UndeliverableResult when its
        reply queue is gone with it (mandatory: the broker returns what no queue takes)."""
        assert self._channel is not None
        try:
            await asyncio.wait_for(
                self._channel.default_exchange.publish(
                    message, routing_key=reply_to, mandatory=True
                ),
                WORKER_PUBLISH_TIMEOUT_S,
            )
        except (PublishError, DeliveryError):
            raise UndeliverableResult(f"reply queue {reply_to!r} is gone") from None


def _decode_job(message: AbstractIncomingMessage) -> Job:
    if not message.reply_to or not message.correlation_id:
        raise PoisonJob("job without a reply address")
    try:
        return Job.model_validate_json(message.body)
    except ValidationError as exc:
        raise PoisonJob(f"malformed job: {exc.error_count()} problem(s)") from None


async def _settle(operation: Any) -> None:
    # If the connection dropped meanwhile, RabbitMQ requeues the unacknowledged job by itself.
    with contextlib.suppress(*CONNECTION_EXCEPTIONS):
        await operation
