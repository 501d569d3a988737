"""piston.bodies: request bodies as Piston's clients send them, JSON or forms (pistonapi's)."""

import pytest

from runakode.errors import BadRequest
from runakode.piston.bodies import decode_body, read_form


def test_form_as_pistonapi_sends_it() -> None:
    form = "language=python&version=3.10.0&files=print%281%29&stdin=&args=a&args=b&timeout=10000"
    assert read_form(form) == {
        "language": "python",
        "version": "3.10.0",
        "files": [{"content": "print(1)"}],
        "stdin": "",
        "args": ["a", "b"],
        "timeout": "10000",
    }


def test_form_with_brackets_and_numbers() -> None:
    form = (
        "files[1][content]=B&files[0][content]=A&files[0][name]=a.py"
        "&args[]=x&args[]=y&run_timeout=1500&run_memory_limit=-1&compile_timeout=1.5"
    )
    assert read_form(form) == {
        "files": [{"content": "A", "name": "a.py"}, {"content": "B"}],
        "args": ["x", "y"],
        "run_timeout": 1500,
        "run_memory_limit": -1,
        "compile_timeout": 1.5,
    }


def test_json_first_whatever_the_content_type() -> None:
    assert decode_body(b'{"a": 1}', "application/x-www-form-urlencoded") == {"a": 1}
    assert decode_body(b"", "text/plain") == {}
    assert decode_body(b"a=1", "application/x-www-form-urlencoded; charset=utf-8") == {"a": "1"}
    with pytest.raises(BadRequest, match="not valid JSON"):
        decode_body(b"a=1", "text/plain")


# Numbers read from requests take ASCII digits only: str.isdigit() also takes "²", which
# int() refuses (schemathesis found the 500 that made).


def test_a_form_key_with_a_non_ascii_digit_is_a_name_not_an_index() -> None:
    assert read_form("files[0][content]=a&files[1][content]=b") == {
        "files": [{"content": "a"}, {"content": "b"}]
    }
    assert read_form("files[²][content]=a") == {"files": [{"²": {"content": "a"}}]}
