"""api/judge0/answers.py: Ruby's to_i as Judge0 reads numbers. Numbers read from requests take
ASCII digits only: Python's str.isdigit() also takes "²", which int() refuses, and schemathesis
found the 500 that made."""

from runakode.api.judge0.answers import ruby_int


def test_ruby_to_i_stops_at_a_non_ascii_digit() -> None:
    assert ruby_int("²", 7) == 0
    assert ruby_int("12²3", 7) == 12
    assert ruby_int("-45abc", 7) == -45
    assert ruby_int(None, 7) == 7
