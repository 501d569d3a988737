"""Numbers read from requests take ASCII digits only: Python's str.isdigit() also takes "²",
which int() refuses, and schemathesis found the 500 that made."""

from runakode.api.judge0.answers import ruby_int
from runakode.piston.bodies import read_form


def test_ruby_to_i_stops_at_a_non_ascii_digit() -> None:
    assert ruby_int("²", 7) == 0
    assert ruby_int("12²3", 7) == 12
    assert ruby_int("-45abc", 7) == -45
    assert ruby_int(None, 7) == 7


def test_a_form_key_with_a_non_ascii_digit_is_a_name_not_an_index() -> None:
    assert read_form("files[0][content]=a&files[1][content]=b") == {
        "files": [{"content": "a"}, {"content": "b"}]
    }
    assert read_form("files[²][content]=a") == {"files": [{"²": {"content": "a"}}]}
