"""runakode.config.load_settings: defaults, the YAML file, RUNAKODE_* variables and flags."""

from collections.abc import Callable
from pathlib import Path

import pytest

from runakode.config import env_var_name, load_settings
from runakode.errors import ConfigError
from runakode.languages import LANGUAGES

NO_ENV: dict[str, str] = {}


def load_yaml(write_config: Callable[[str], Path], text: str, **kwargs: object):
    kwargs.setdefault("environ", NO_ENV)
    return load_settings(write_config(text), **kwargs)  # type: ignore[arg-type]


# --- defaults ---------------------------------------------------------------------------------


def test_defaults_are_the_documented_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.yaml here
    settings = load_settings(None, environ=NO_ENV)

    assert settings.address == "127.0.0.1"
    assert settings.port == 8080
    assert settings.broker is None
    assert settings.rabbitmq.url == "amqp://guest:guest@localhost:5672/"
    assert settings.rabbitmq.queue == "runner_jobs"
    # Every language runakode knows, in the catalog's order.
    assert settings.supported_languages == list(LANGUAGES)
    assert len(settings.supported_languages) >= 40
    assert settings.compile_timeout_s == 120.0
    assert settings.compile_output_max_bytes == 65536
    assert settings.api_timeout_s == 15.0
    assert settings.max_workers == 2
    assert settings.job_cpus == 1.0
    assert settings.job_memory_bytes == 1073741824
    assert settings.job_timeout_s == 10.0
    assert settings.output_max_bytes == 1048576
    assert settings.sandbox_images == {
        name: f"{name}-runner" for name in settings.supported_languages
    }
    assert settings.rate_limit.requests_per_second == 10
    assert settings.rate_limit.burst == 20
    assert settings.rate_limit.enabled


def test_repo_config_yaml_equals_the_defaults(
    repo_root: Path, write_config: Callable[[str], Path]
) -> None:
    from_repo = load_settings(repo_root / "config.yaml", environ=NO_ENV)
    defaults = load_settings(write_config(""), environ=NO_ENV)
    assert from_repo.model_dump() == defaults.model_dump()


def test_empty_file_gives_defaults(write_config: Callable[[str], Path]) -> None:
    assert load_yaml(write_config, "# only a comment\n").port == 8080


def test_implicit_config_yaml_in_cwd_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.yaml").write_text("port: 9999\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings(None, environ=NO_ENV).port == 9999


def test_implicit_config_yaml_errors_name_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.yaml").write_text("port: nope\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"config\.yaml.*port"):
        load_settings(None, environ=NO_ENV)


# --- value notations --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ['port: "9000"', "port: 9000"])
def test_port_as_string_or_number(write_config: Callable[[str], Path], text: str) -> None:
    assert load_yaml(write_config, text).port == 9000


@pytest.mark.parametrize("port", ["0", "65536", "abc", "[1]"])
def test_bad_port_is_rejected(write_config: Callable[[str], Path], port: str) -> None:
    with pytest.raises(ConfigError, match="port"):
        load_yaml(write_config, f"port: {port}")


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [('"500ms"', 0.5), ('"2s"', 2.0), ('"1m"', 60.0), ("3", 3.0), ("2.5", 2.5), ('"1h"', 3600.0)],
)
def test_durations(write_config: Callable[[str], Path], raw: str, seconds: float) -> None:
    settings = load_yaml(write_config, f"apiTimeout: {raw}\njobTimeout: {raw}")
    assert settings.api_timeout_s == pytest.approx(seconds)
    assert settings.job_timeout_s == pytest.approx(seconds)


@pytest.mark.parametrize("raw", ['"10 minutes"', "0", "-1", '"0s"', "true", '"s"', "[1]"])
def test_bad_durations_are_rejected(write_config: Callable[[str], Path], raw: str) -> None:
    with pytest.raises(ConfigError, match="jobTimeout"):
        load_yaml(write_config, f"jobTimeout: {raw}")


@pytest.mark.parametrize(
    ("raw", "size"),
    [('"512m"', 512 << 20), ('"1g"', 1 << 30), ("1073741824", 1073741824), ('"32768k"', 32 << 20)],
)
def test_memory_sizes(write_config: Callable[[str], Path], raw: str, size: int) -> None:
    assert load_yaml(write_config, f"jobMemory: {raw}").job_memory_bytes == size


@pytest.mark.parametrize("raw", ['"1t"', '"8m"', "true", '"lots"', "1.5"])
def test_bad_memory_sizes_are_rejected(write_config: Callable[[str], Path], raw: str) -> None:
    with pytest.raises(ConfigError, match="jobMemory"):
        load_yaml(write_config, f"jobMemory: {raw}")


@pytest.mark.parametrize(("raw", "cpus"), [('"1"', 1.0), ("0.5", 0.5), ('"2"', 2.0)])
def test_cpus(write_config: Callable[[str], Path], raw: str, cpus: float) -> None:
    assert load_yaml(write_config, f"jobCpu: {raw}").job_cpus == cpus


@pytest.mark.parametrize("raw", ["0", "65", '"many"', "true"])
def test_bad_cpus_are_rejected(write_config: Callable[[str], Path], raw: str) -> None:
    with pytest.raises(ConfigError, match="jobCpu"):
        load_yaml(write_config, f"jobCpu: {raw}")


# --- rejected files ---------------------------------------------------------------------------


def test_unknown_top_level_key(write_config: Callable[[str], Path]) -> None:
    with pytest.raises(ConfigError, match=r"colour: unknown key"):
        load_yaml(write_config, "colour: blue")


def test_unknown_nested_key(write_config: Callable[[str], Path]) -> None:
    with pytest.raises(ConfigError, match=r"rabbitmq\.uri: unknown key"):
        load_yaml(write_config, "rabbitmq:\n  uri: amqp://x/")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("maxWorkers: lots", "maxWorkers"),
        ("supportedLanguages: python", "supportedLanguages"),
        ("rabbitmq: amqp://localhost/", "rabbitmq"),
        ("rateLimit:\n  burst: many", "rateLimit.burst"),
        ("broker: kafka", "broker"),
    ],
)
def test_wrong_type_is_rejected(write_config: Callable[[str], Path], text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_yaml(write_config, text)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.yaml", environ=NO_ENV)


def test_unreadable_explicit_file(tmp_path: Path) -> None:
    # A directory cannot be read as a file, even by root.
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path, environ=NO_ENV)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"address: caf\xe9\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_settings(path, environ=NO_ENV)


def test_yaml_list_is_rejected(write_config: Callable[[str], Path]) -> None:
    with pytest.raises(ConfigError, match="mapping"):
        load_yaml(write_config, "- port: 1\n- port: 2\n")


def test_invalid_yaml_is_rejected(write_config: Callable[[str], Path]) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(write_config, "port: [8080\naddress: x")


def test_unknown_language_is_rejected(write_config: Callable[[str], Path]) -> None:
    with pytest.raises(ConfigError, match="unknown language 'fsharp'"):
        load_yaml(write_config, "supportedLanguages: [python, fsharp]")


def test_images_given_replace_only_their_languages_images(
    write_config: Callable[[str], Path],
) -> None:
    settings = load_yaml(write_config, "sandboxImages:\n  python: my-python")
    assert settings.sandbox_images["python"] == "my-python"
    assert settings.sandbox_images["go"] == "go-runner"
    assert set(settings.sandbox_images) == set(LANGUAGES)


def test_empty_language_list_is_rejected(write_config: Callable[[str], Path]) -> None:
    with pytest.raises(ConfigError, match="supportedLanguages"):
        load_yaml(write_config, "supportedLanguages: []")


# --- rate limit switch ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["rateLimit:\n  requestsPerSecond: 0", "rateLimit:\n  burst: 0"])
def test_rate_limit_zero_disables(write_config: Callable[[str], Path], text: str) -> None:
    assert load_yaml(write_config, text).rate_limit.enabled is False


def test_rate_limit_zero_from_env_disables(write_config: Callable[[str], Path]) -> None:
    settings = load_yaml(write_config, "", environ={"RUNAKODE_RATE_LIMIT_BURST": "0"})
    assert settings.rate_limit.enabled is False


# --- environment variables and precedence ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (("port",), "RUNAKODE_PORT"),
        (("rabbitmq", "url"), "RUNAKODE_RABBITMQ_URL"),
        (("rateLimit", "burst"), "RUNAKODE_RATE_LIMIT_BURST"),
        (("rateLimit", "requestsPerSecond"), "RUNAKODE_RATE_LIMIT_REQUESTS_PER_SECOND"),
        (("supportedLanguages",), "RUNAKODE_SUPPORTED_LANGUAGES"),
    ],
)
def test_env_var_names(path: tuple[str, ...], name: str) -> None:
    assert env_var_name(path) == name


def test_env_overrides(write_config: Callable[[str], Path]) -> None:
    environ = {
        "RUNAKODE_PORT": "9100",
        "RUNAKODE_RABBITMQ_URL": "amqp://user:secret@mq.internal:5673/vhost",
        "RUNAKODE_RATE_LIMIT_BURST": "5",
        "RUNAKODE_SUPPORTED_LANGUAGES": "[python]",
        "RUNAKODE_API_TIMEOUT": "3s",
        "UNRELATED": "ignored",
    }
    settings = load_yaml(write_config, "", environ=environ)
    assert settings.port == 9100
    assert settings.rabbitmq.url == "amqp://user:secret@mq.internal:5673/vhost"
    assert settings.rate_limit.burst == 5
    assert settings.rate_limit.requests_per_second == 10  # sibling key keeps its value
    assert settings.supported_languages == ["python"]
    assert settings.api_timeout_s == 3.0


def test_env_merges_into_nested_file_values(write_config: Callable[[str], Path]) -> None:
    text = "rabbitmq:\n  queue: from_file\n  url: amqp://file/"
    environ = {"RUNAKODE_RABBITMQ_URL": "amqp://env/"}
    settings = load_yaml(write_config, text, environ=environ)
    assert settings.rabbitmq.url == "amqp://env/"
    assert settings.rabbitmq.queue == "from_file"


def test_invalid_env_value_is_a_config_error(write_config: Callable[[str], Path]) -> None:
    with pytest.raises(ConfigError, match="port"):
        load_yaml(write_config, "", environ={"RUNAKODE_PORT": "not-a-port"})


def test_process_environment_is_used_by_default(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNAKODE_PORT", "9200")
    assert load_settings(write_config("port: 1000")).port == 9200


def test_precedence_file_then_env_then_flags(write_config: Callable[[str], Path]) -> None:
    path = write_config("port: 1000\naddress: 10.0.0.1")
    env = {"RUNAKODE_PORT": "2000"}

    assert load_settings(path, environ=NO_ENV).port == 1000
    assert load_settings(path, environ=env).port == 2000
    flagged = load_settings(path, environ=env, overrides={"port": "3000", "address": None})
    assert flagged.port == 3000
    assert flagged.address == "10.0.0.1"  # a flag left unset (None) changes nothing


# --- regressions: bugs found and fixed ---


@pytest.mark.parametrize(
    ("name", "value", "attribute"),
    [
        ("RUNAKODE_ADDRESS", "::", "address"),
        ("RUNAKODE_RABBITMQ_QUEUE", "12345", "queue"),
    ],
)
def test_env_string_values_are_kept_verbatim(
    write_config: Callable[[str], Path], name: str, value: str, attribute: str
) -> None:
    settings = load_yaml(write_config, "", environ={name: value})
    owner = settings.rabbitmq if attribute == "queue" else settings
    assert getattr(owner, attribute) == value


def test_nan_duration_is_rejected(write_config: Callable[[str], Path]) -> None:
    with pytest.raises(ConfigError, match="jobTimeout"):
        load_yaml(write_config, "jobTimeout: .nan")
