import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from runakode import terminal_client
from runakode.config import Settings, load_settings
from runakode.errors import RunakodeError
from runakode.logs import setup_logging
from runakode.service import Service

log = logging.getLogger("runakode")


def _parser(prog: str, description: str, with_address: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML config file (default: ./config.yaml if present); RUNAKODE_* override it",
    )
    if with_address:
        parser.add_argument("--address", default=None, help="address to listen on")
        parser.add_argument("--port", default=None, help="port to listen on")
    return parser


def _load(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        "address": getattr(args, "address", None),
        "port": getattr(args, "port", None),
    }
    return load_settings(args.config, overrides=overrides)


def _broker_kind(prog: str, settings: Settings, default: str, shared: bool) -> str:
    kind = settings.broker or default
    if shared and kind != "rabbitmq":
        raise RunakodeError(
            f"{prog} needs `broker: rabbitmq`: the memory broker only links an API and workers "
            "inside one process (run `runakode` for that)"
        )
    return kind


def _fail(prog: str, message: str) -> None:
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(2)


class _Server(uvicorn.Server):
    """A uvicorn server that also tells the service the moment a stop signal arrives."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._on_exit()


async def _serve_http(service: Service, port: int) -> None:
    settings = service.settings
    loop = asyncio.get_running_loop()
    draining: set[asyncio.Task[None]] = set()

    async def stop_taking_jobs() -> None:
        await service.broker.stop_consuming()
        log.info("stopping: taking no new jobs")

    def on_exit() -> None:
        # A worker-only process stops taking jobs at once, not after its HTTP server has wound
        # down: a job it took meanwhile would only delay its exit. (With the API in the same
        # process, queued jobs belong to requests still in flight: those are finished first.)
        if service.runs_workers and not service.api and not draining:
            loop.call_soon_threadsafe(lambda: draining.add(loop.create_task(stop_taking_jobs())))

    await service.start()
    server = _Server(
        uvicorn.Config(
            service.create_app(),
            host=settings.address,
            port=port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_s)),
        ),
        on_exit,
    )
    await server.serve()
    if not server.started:
        await service.stop()
        raise RunakodeError(f"could not listen on {settings.address}:{port}")


async def _serve_workers(service: Service) -> None:
    """A worker pool with no HTTP port (workerPort: 0): runs until SIGTERM or Ctrl-C."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await service.start()
    try:
        await stop.wait()
        log.info("stopping: finishing running jobs")
    finally:
        await service.stop()


def _run(prog: str, description: str, *, api: bool, workers: bool, argv: list[str] | None) -> None:
    args = _parser(prog, description, with_address=api).parse_args(argv)
    setup_logging()
    try:
        settings = _load(args)
        combined = api and workers
        kind = _broker_kind(prog, settings, "memory" if combined else "rabbitmq", not combined)
        service = Service(settings, kind, api=api, workers=workers)
        # uvicorn re-raises the signal that stopped it once it is done; the drain has run by then.
        signal.signal(signal.SIGTERM, lambda *_: None)
        signal.signal(signal.SIGINT, lambda *_: None)
        if api:
            asyncio.run(_serve_http(service, settings.port))
        elif settings.worker_port:
            asyncio.run(_serve_http(service, settings.worker_port))
        else:
            asyncio.run(_serve_workers(service))
    except RunakodeError as exc:
        _fail(prog, exc.message)


# `runakode COMMAND ...` is the terminal client; `runakode [--config ...]` serves.
CLIENT_COMMANDS = frozenset({"run", "languages"})


def main_combined(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if _client_command(argv):
        terminal_client.main(argv)
    _run(
        "runakode",
        "HTTP API and sandbox workers in one process. As a client of a running server: "
        "`runakode run FILE` and `runakode languages` (see `runakode run --help`).",
        api=True,
        workers=True,
        argv=argv,
    )


def _client_command(argv: list[str]) -> bool:
    """Whether argv names a client command, possibly after the client's own --url."""
    words = iter(argv)
    for word in words:
        if word == "--url":
            next(words, None)
        elif not word.startswith("--url="):
            return word in CLIENT_COMMANDS
    return False


def main_api(argv: list[str] | None = None) -> None:
    _run(
        "runakode-api", "HTTP API that queues jobs on RabbitMQ", api=True, workers=False, argv=argv
    )


def main_worker(argv: list[str] | None = None) -> None:
    _run("runakode-worker", "sandbox workers fed by RabbitMQ", api=False, workers=True, argv=argv)
