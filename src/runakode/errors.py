class RunakodeError(Exception):
    """Base of every error the service raises on purpose; each knows its HTTP answer."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class ConfigError(RunakodeError):
    code = "config_error"


class BadRequest(RunakodeError):
    status_code = 400
    code = "bad_request"


class PayloadTooLarge(RunakodeError):
    status_code = 413
    code = "payload_too_large"


class RateLimited(RunakodeError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("rate limit exceeded", {"Retry-After": str(retry_after_s)})


class BrokerUnavailable(RunakodeError):
    status_code = 503
    code = "broker_unavailable"


class QueueFull(BrokerUnavailable):
    code = "queue_full"


class Overloaded(BrokerUnavailable):
    """The runs already waiting could not be answered within this request's deadline."""

    code = "overloaded"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, {"Retry-After": str(retry_after_s)})


class StoreUnavailable(RunakodeError):
    """The submission database did not answer: nothing was stored or changed."""

    status_code = 503
    code = "store_unavailable"


class ResultTimeout(RunakodeError):
    status_code = 504
    code = "result_timeout"


class SandboxError(RunakodeError):
    """The sandbox engine failed: an infrastructure problem, never the program's fault."""

    code = "sandbox_error"


class PoisonJob(RunakodeError):
    """A queued job no worker can ever run: it is set aside instead of retried."""

    code = "poison_job"


class SandboxUnavailable(SandboxError):
    """A sandbox died before it took its job: the job can safely go to another sandbox."""

    code = "sandbox_unavailable"


def describe_validation_error(
    problems: list[dict[str, object]], *, unknown: str, default_where: str = ""
) -> str:
    """pydantic's problems as one line in our words: "where: what; where: what"."""
    lines = []
    for problem in problems:
        location = problem.get("loc") or ()
        assert isinstance(location, tuple | list)
        where = ".".join(str(part) for part in location if part != "body") or default_where
        message = str(problem.get("msg", "")).removeprefix("Value error, ")
        if problem.get("type") == "extra_forbidden":
            message = unknown
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)
