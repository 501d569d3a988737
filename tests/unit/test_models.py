"""models.ExecuteRequest: the body of POST /api."""

from typing import Any

import pytest
from pydantic import ValidationError

from runakode.models import ExecuteRequest, JobResult, Status


def test_valid_request() -> None:
    request = ExecuteRequest.model_validate(
        {"language": "python", "source_code": 'print("héllo ✓")'}
    )
    assert request.language == "python"
    assert request.source_code == 'print("héllo ✓")'


@pytest.mark.parametrize("field", ["language", "source_code"])
@pytest.mark.parametrize("blank", ["", " ", "\n\t  "])
def test_blank_fields_are_rejected(field: str, blank: str) -> None:
    body = {"language": "python", "source_code": "print(1)", field: blank}
    with pytest.raises(ValidationError, match="must not be blank"):
        ExecuteRequest.model_validate(body)


@pytest.mark.parametrize("field", ["language", "source_code"])
@pytest.mark.parametrize("value", [1, 1.5, True, None, ["print(1)"], {"a": "b"}, b"print(1)"])
def test_non_strings_are_rejected(field: str, value: Any) -> None:
    body = {"language": "python", "source_code": "print(1)", field: value}
    with pytest.raises(ValidationError) as caught:
        ExecuteRequest.model_validate(body)
    assert caught.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize("missing", ["language", "source_code"])
def test_missing_fields_are_rejected(missing: str) -> None:
    body = {"language": "python", "source_code": "print(1)"}
    del body[missing]
    with pytest.raises(ValidationError, match=missing):
        ExecuteRequest.model_validate(body)


def test_extra_fields_are_rejected() -> None:
    body = {"language": "python", "source_code": "print(1)", "stdn": "x"}
    with pytest.raises(ValidationError) as caught:
        ExecuteRequest.model_validate(body)
    assert caught.value.errors()[0]["type"] == "extra_forbidden"


def test_lone_surrogate_is_rejected() -> None:
    body = {"language": "python", "source_code": 'print("\ud800")'}
    with pytest.raises(ValidationError, match="lone surrogates"):
        ExecuteRequest.model_validate(body)


def test_lone_surrogate_from_json_is_rejected() -> None:
    with pytest.raises(ValidationError):
        ExecuteRequest.model_validate_json('{"language": "python", "source_code": "\\udc00"}')


def test_internal_error_result() -> None:
    result = JobResult.internal_error("boom")
    assert result.status == Status.INTERNAL_ERROR
    assert result.stderr == "boom"
    assert result.exit_code == -1
    assert result.timeout is False
    assert result.truncated is False
