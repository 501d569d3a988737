"""runakode.availability and the deadlines a language's toolchain sets (jobs.py)."""

import pytest

from runakode.availability import unavailable_languages, unavailable_message
from runakode.config import Settings
from runakode.errors import BadRequest
from runakode.jobs import answer_deadline_s, build_job, compile_timeout_s
from runakode.languages import LANGUAGES
from runakode.models import ExecuteRequest, Job


def settings(**values: object) -> Settings:
    return Settings.model_validate(
        {"supportedLanguages": ["python", "go", "scala"], "compileTimeout": 60, **values}
    )


def test_before_any_announcement_nothing_is_unavailable() -> None:
    assert unavailable_languages(settings(), {}) == frozenset()


def test_languages_left_out_of_the_announcement_are_unavailable() -> None:
    announced = {"python": "Python 3.11.2", "go": None}
    assert unavailable_languages(settings(), announced) == {"scala"}


def test_an_unavailable_language_is_refused_with_the_reason() -> None:
    body = ExecuteRequest(language="scala", source_code="object Main extends App {}")
    with pytest.raises(BadRequest) as refused:
        build_job(settings(), body, request_id=None, unavailable={"scala"})
    assert refused.value.message == unavailable_message("scala", settings())
    assert "scala-runner" in refused.value.message and "make setup" in refused.value.message
    assert build_job(settings(), body, request_id=None, unavailable={"go"}).language == "scala"


def test_compile_deadline_is_the_toolchains_capped_by_the_operator() -> None:
    go, scala = LANGUAGES["go"], LANGUAGES["scala"]
    assert compile_timeout_s(settings(), go) == go.compile_timeout_s
    assert compile_timeout_s(settings(compileTimeout=5), go) == 5
    assert compile_timeout_s(settings(), scala) == min(scala.compile_timeout_s, 60)
    # A client's own deadline, also capped.
    assert compile_timeout_s(settings(), go, 3.0) == 3.0
    assert compile_timeout_s(settings(), go, 600.0) == 60


def job(language: str, compile_timeout: float | None = None) -> Job:
    return Job(id="j", language=language, source_code="x", compile_timeout_s=compile_timeout)


def test_an_answer_waits_for_the_compile_too() -> None:
    config = settings(apiTimeout=15)
    assert answer_deadline_s(config, job("python")) == 15
    assert answer_deadline_s(config, job("go")) == 15 + LANGUAGES["go"].compile_timeout_s
    assert answer_deadline_s(config, job("go", 2.0)) == 17
