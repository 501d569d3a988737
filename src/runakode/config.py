import ipaddress
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from runakode.errors import ConfigError, describe_validation_error
from runakode.languages import LANGUAGES

ALL_LANGUAGES = tuple(LANGUAGES)


def default_image(language: str) -> str:
    """The image `make setup` builds for a language (sandbox/images/<language>/)."""
    return f"{language}-runner"


ENV_PREFIX = "RUNAKODE_"
DEFAULT_CONFIG_PATH = Path("config.yaml")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_MEMORY = re.compile(r"^\s*(\d+)\s*([bkmg]?)\s*$", re.IGNORECASE)
_MEMORY_UNIT = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
# The least memory a sandbox, or a job's own limit, may have: below it an interpreter cannot start.
MIN_MEMORY_BYTES = 16 << 20


def parse_duration_s(value: object) -> float:
    """Seconds from a number (seconds) or a Go-style string such as "15s" or "500ms"."""
    if isinstance(value, bool):
        raise ValueError('expected a duration such as 10 or "10s"')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _DURATION_UNIT_S[match.group(2)]
    else:
        raise ValueError('expected a duration such as 10, "10s" or "500ms"')
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("a duration must be a positive, finite number")
    return seconds


def parse_size_bytes(value: object) -> int:
    """Bytes from Docker's notation ("1024m", "1g") or a plain byte count."""
    if isinstance(value, bool):
        raise ValueError('expected a size such as "512m"')
    text = str(value) if isinstance(value, int) else value
    if not isinstance(text, str) or not (match := _MEMORY.match(text)):
        raise ValueError('expected a size in Docker notation such as "512m" or "1g"')
    return int(match.group(1)) * _MEMORY_UNIT[match.group(2).lower()]


def parse_memory_bytes(value: object) -> int:
    size = parse_size_bytes(value)
    if size < MIN_MEMORY_BYTES:
        raise ValueError(f"a sandbox needs at least {MIN_MEMORY_BYTES >> 20}m of memory")
    return size


def parse_cpus(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError('expected a CPU count such as "1" or "0.5"')
    try:
        cpus = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError('expected a CPU count such as "1" or "0.5"') from None
    if not 0 < cpus <= 64:
        raise ValueError("a CPU count must be above 0 and at most 64")
    return cpus


DurationS = Annotated[float, BeforeValidator(parse_duration_s)]
MemoryBytes = Annotated[int, BeforeValidator(parse_memory_bytes)]
SizeBytes = Annotated[int, BeforeValidator(parse_size_bytes)]
Cpus = Annotated[float, BeforeValidator(parse_cpus)]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RabbitMQSettings(_Settings):
    url: str = "amqp://guest:guest@localhost:5672/"
    queue: str = Field("runner_jobs", min_length=1, max_length=200)


class StoreSettings(_Settings):
    # SQLite serves the processes of one host; PostgreSQL (postgresql://...) serves many hosts.
    url: str = Field("sqlite:///data/runakode.db", min_length=1)
    retention_s: DurationS = Field(7 * 86400.0, alias="retention")


class AuthSettings(_Settings):
    tokens: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    admin_tokens: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, alias="adminTokens"
    )

    @property
    def enabled(self) -> bool:
        return bool(self.tokens)


class CorsSettings(_Settings):
    allow_origins: list[str] = Field(default_factory=lambda: ["*"], alias="allowOrigins")


class CallbackSettings(_Settings):
    enabled: bool = True
    timeout_s: DurationS = Field(5.0, alias="timeout")
    max_tries: int = Field(3, alias="maxTries", ge=1, le=10)
    # Loopback, private, link-local and metadata addresses are refused unless listed here.
    allowed_networks: list[str] = Field(default_factory=list, alias="allowedNetworks")

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"not a network address: {network!r}") from None
        return value


class Judge0Settings(_Settings):
    """Judge0 CE's own settings (judge0.conf), with its defaults; each maximum is further capped
    by the sandbox limits above (jobTimeout, jobMemory, outputMaxBytes)."""

    maintenance_mode: bool = Field(False, alias="maintenanceMode")
    maintenance_message: str = Field(
        "Judge0 is currently in maintenance.", alias="maintenanceMessage"
    )
    enable_wait_result: bool = Field(True, alias="enableWaitResult")
    enable_compiler_options: bool = Field(True, alias="enableCompilerOptions")
    allowed_languages_for_compile_options: list[str] = Field(
        default_factory=list, alias="allowedLanguagesForCompileOptions"
    )
    enable_command_line_arguments: bool = Field(True, alias="enableCommandLineArguments")
    enable_submission_delete: bool = Field(False, alias="enableSubmissionDelete")
    enable_additional_files: bool = Field(True, alias="enableAdditionalFiles")
    enable_batched_submissions: bool = Field(True, alias="enableBatchedSubmissions")
    max_submission_batch_size: int = Field(20, alias="maxSubmissionBatchSize", ge=1, le=1000)
    max_queue_size: int = Field(100, alias="maxQueueSize", ge=1)
    cpu_time_limit: float = Field(5.0, alias="cpuTimeLimit", ge=0)
    max_cpu_time_limit: float = Field(15.0, alias="maxCpuTimeLimit", ge=0)
    cpu_extra_time: float = Field(1.0, alias="cpuExtraTime", ge=0)
    max_cpu_extra_time: float = Field(5.0, alias="maxCpuExtraTime", ge=0)
    wall_time_limit: float = Field(10.0, alias="wallTimeLimit", ge=1)
    max_wall_time_limit: float = Field(20.0, alias="maxWallTimeLimit", ge=1)
    memory_limit: int = Field(128000, alias="memoryLimit", ge=2048)
    max_memory_limit: int = Field(512000, alias="maxMemoryLimit", ge=2048)
    stack_limit: int = Field(64000, alias="stackLimit", ge=0)
    max_stack_limit: int = Field(128000, alias="maxStackLimit", ge=0)
    max_processes_and_or_threads: int = Field(60, alias="maxProcessesAndOrThreads", ge=1)
    max_max_processes_and_or_threads: int = Field(120, alias="maxMaxProcessesAndOrThreads", ge=1)
    allow_enable_per_process_and_thread_time_limit: bool = Field(
        True, alias="allowEnablePerProcessAndThreadTimeLimit"
    )
    allow_enable_per_process_and_thread_memory_limit: bool = Field(
        True, alias="allowEnablePerProcessAndThreadMemoryLimit"
    )
    max_file_size: int = Field(1024, alias="maxFileSize", ge=0)
    max_max_file_size: int = Field(4096, alias="maxMaxFileSize", ge=0)
    number_of_runs: int = Field(1, alias="numberOfRuns", ge=1)
    max_number_of_runs: int = Field(20, alias="maxNumberOfRuns", ge=1, le=100)
    redirect_stderr_to_stdout: bool = Field(False, alias="redirectStderrToStdout")
    max_extract_size: int = Field(10240, alias="maxExtractSize", ge=0)
    # Judge0 master's rule: responses are base64 unless ?base64_encoded=false. Off: v1.13.1's.
    implicit_base64: bool = Field(False, alias="implicitBase64")


class CompileCacheSettings(_Settings):
    enabled: bool = True
    # On the worker's host, shared by its worker processes; relative to the working directory.
    directory: str = Field("data/compile-cache", alias="dir", min_length=1)
    max_bytes: SizeBytes = Field(1 << 30, alias="maxSize", gt=0)
    max_age_s: DurationS = Field(7 * 86400.0, alias="maxAge")


class RateLimitSettings(_Settings):
    requests_per_second: float = Field(10.0, alias="requestsPerSecond", ge=0)
    burst: int = Field(20, ge=0)

    @property
    def enabled(self) -> bool:
        return self.requests_per_second > 0 and self.burst > 0


class Settings(_Settings):
    address: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    broker: Literal["memory", "rabbitmq"] | None = None
    rabbitmq: RabbitMQSettings = Field(default_factory=RabbitMQSettings)
    supported_languages: list[str] = Field(
        default_factory=lambda: list(ALL_LANGUAGES), alias="supportedLanguages", min_length=1
    )
    api_timeout_s: DurationS = Field(15.0, alias="apiTimeout")
    max_workers: int = Field(2, alias="maxWorkers", ge=1, le=256)
    job_cpus: Cpus = Field(1.0, alias="jobCpu")
    job_memory_bytes: MemoryBytes = Field(1024 << 20, alias="jobMemory")
    job_timeout_s: DurationS = Field(10.0, alias="jobTimeout")
    output_max_bytes: int = Field(1 << 20, alias="outputMaxBytes", ge=1, le=64 << 20)
    # The longest any compile may take; each toolchain has its own deadline below it.
    compile_timeout_s: DurationS = Field(120.0, alias="compileTimeout")
    compile_output_max_bytes: int = Field(
        64 << 10, alias="compileOutputMaxBytes", ge=1, le=16 << 20
    )
    queue_max_length: int = Field(1000, alias="queueMaxLength", ge=1)
    shutdown_grace_s: DurationS = Field(30.0, alias="shutdownGrace")
    # Languages absent here are sized by the pool from their recent demand.
    sandbox_pool: dict[str, Annotated[int, Field(ge=0, le=64)]] = Field(
        default_factory=dict, alias="sandboxPool"
    )
    sandbox_backend: Literal["auto", "docker", "runsc"] = Field("auto", alias="sandboxBackend")
    worker_port: int = Field(8081, alias="workerPort", ge=0, le=65535)
    docker_socket: str = Field("/var/run/docker.sock", alias="dockerSocket", min_length=1)
    sandbox_images: dict[str, str] = Field(
        default_factory=lambda: {name: default_image(name) for name in ALL_LANGUAGES},
        alias="sandboxImages",
    )
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings, alias="rateLimit")
    store: StoreSettings = Field(default_factory=StoreSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    judge0: Judge0Settings = Field(default_factory=Judge0Settings)
    compile_cache: CompileCacheSettings = Field(
        default_factory=CompileCacheSettings, alias="compileCache"
    )

    @field_validator("sandbox_images", mode="after")
    @classmethod
    def _default_images(cls, images: dict[str, str]) -> dict[str, str]:
        """The images given replace the defaults of their languages only."""
        return {**{name: default_image(name) for name in ALL_LANGUAGES}, **images}

    @model_validator(mode="after")
    def _languages_have_images(self) -> "Settings":
        for name in self.supported_languages:
            if name not in LANGUAGES:
                known = ", ".join(sorted(LANGUAGES))
                raise ValueError(f"supportedLanguages: unknown language {name!r} (known: {known})")
        for name in self.sandbox_pool:
            if name not in LANGUAGES:
                raise ValueError(f"sandboxPool: unknown language {name!r}")
        return self


def env_var_name(key_path: tuple[str, ...]) -> str:
    snake = "_".join(re.sub(r"(?<!^)(?=[A-Z])", "_", key).upper() for key in key_path)
    return ENV_PREFIX + snake


def _env_overrides(
    model: type[BaseModel], environ: Mapping[str, str], prefix: tuple[str, ...] = ()
) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = (*prefix, key)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested = _env_overrides(annotation, environ, path)
            if nested:
                overrides[key] = nested
        elif (raw := environ.get(env_var_name(path))) is not None:
            overrides[key] = raw if annotation is str else _parse_env_value(raw)
    return overrides


def _parse_env_value(raw: str) -> Any:
    """Lists, maps and numbers are written as YAML in a variable; a bad one stays text."""
    try:
        return yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        return raw


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(f"config file {path} must hold a mapping of keys, not {kind}")
    return data


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults, then the YAML file, then RUNAKODE_* variables, then command-line flags."""
    environ = os.environ if environ is None else environ
    if path is None:
        data = _read_yaml(DEFAULT_CONFIG_PATH) if DEFAULT_CONFIG_PATH.exists() else {}
        source = str(DEFAULT_CONFIG_PATH)
    else:
        data = _read_yaml(path)
        source = str(path)
    data = _merge(data, _env_overrides(Settings, environ))
    flags = {key: value for key, value in (overrides or {}).items() if value is not None}
    data = _merge(data, flags)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation_error(
            [dict(problem) for problem in exc.errors()],
            unknown="unknown key",
            default_where="config",
        )
        raise ConfigError(f"invalid configuration ({source}): {problems}") from None
