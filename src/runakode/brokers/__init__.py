from runakode.brokers.base import Broker, JobHandlers, SubmissionFinished
from runakode.config import Settings


def create_broker(settings: Settings, kind: str) -> Broker:
    """Imports the chosen transport only, so aio-pika is loaded only when it is used."""
    if kind == "memory":
        from runakode.brokers.memory import MemoryBroker

        return MemoryBroker(max_length=settings.queue_max_length)
    if kind == "rabbitmq":
        from runakode.brokers.rabbitmq import RabbitMQBroker

        return RabbitMQBroker(
            url=settings.rabbitmq.url,
            queue=settings.rabbitmq.queue,
            max_length=settings.queue_max_length,
        )
    raise ValueError(f"unknown broker {kind!r}")


__all__ = ["Broker", "JobHandlers", "SubmissionFinished", "create_broker"]
