"""runakode.judge0.serialization: fields, Rails' rendering, base64 both ways."""

import base64
import json

import pytest

from runakode.judge0.serialization import (
    DEFAULT_FIELDS,
    FIELDS,
    InvalidFields,
    NotUtf8,
    decode_base64_lenient,
    encode_base64,
    format_decimal,
    format_timestamp,
    render,
    requested_fields,
)
from runakode.submissions.record import (
    Judge0Status,
    Submission,
    SubmissionOutcome,
    SubmissionRequest,
)

TOKEN = "1b7a3b3e-2f8c-4d1e-9a51-6c0c6b1f2e3d"
CREATED = 1712122851.306  # 2024-04-03T05:40:51.306Z
FINISHED = 1712122852.5


def submission(
    outcome: SubmissionOutcome | None = None,
    status: Judge0Status | None = None,
    **request: object,
) -> Submission:
    values: dict[str, object] = {"source_code": b"print(input())", "language_id": 71}
    values.update(request)
    return Submission(
        token=TOKEN,
        request=SubmissionRequest(**values),  # type: ignore[arg-type]
        status=status or (outcome.status if outcome else Judge0Status.IN_QUEUE),
        created_at=CREATED,
        finished_at=FINISHED if outcome else None,
        outcome=outcome,
    )


ACCEPTED = SubmissionOutcome(
    status=Judge0Status.ACCEPTED,
    stdout=b"hello\n",
    stderr=b"",
    compile_output=None,
    time=0.012,
    wall_time=0.05,
    memory=3520,
    exit_code=0,
    exit_signal=None,
    message=None,
)


# --- fields -------------------------------------------------------------------------------------


def test_the_35_fields_of_v1_13_1() -> None:
    assert len(FIELDS) == 35
    assert len(set(FIELDS)) == 35
    assert FIELDS[:5] == ("source_code", "language_id", "stdin", "expected_output", "stdout")
    assert FIELDS[-2:] == ("status", "language")
    # master's additions would crash the official SDK under fields=*.
    for newer in ("started_at", "queued_at", "updated_at", "queue_host", "execution_host", "id"):
        assert newer not in FIELDS


def test_default_fields() -> None:
    assert DEFAULT_FIELDS == (
        "token",
        "time",
        "memory",
        "stdout",
        "stderr",
        "compile_output",
        "message",
        "status",
    )


SERIALIZER_ORDER_DEFAULTS = [
    "stdout",
    "time",
    "memory",
    "stderr",
    "token",
    "compile_output",
    "message",
    "status",
]


@pytest.mark.parametrize(
    ("param", "fields"),
    [
        (None, SERIALIZER_ORDER_DEFAULTS),
        ("", SERIALIZER_ORDER_DEFAULTS),
        (",", SERIALIZER_ORDER_DEFAULTS),
        ("*", list(FIELDS)),
        ("token,*", list(FIELDS)),
        ("token,status", ["token", "status"]),
        ("status,token", ["token", "status"]),
        ("token,token", ["token"]),
        ("token,", ["token"]),
        ("language_id,stdout,status_id", ["language_id", "stdout", "status_id"]),
    ],
)
def test_requested_fields(param: str | None, fields: list[str]) -> None:
    assert requested_fields(param) == fields


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("foo", "invalid fields: [foo]"),
        ("foo,bar", "invalid fields: [foo, bar]"),
        ("token,foo", "invalid fields: [foo]"),
        ("*,foo", "invalid fields: [foo]"),
        ("foo,foo", "invalid fields: [foo, foo]"),
        (" token", "invalid fields: [ token]"),
        ("TOKEN", "invalid fields: [TOKEN]"),
        ("queued_at", "invalid fields: [queued_at]"),
        # Ruby keeps empty pieces that are not at the end.
        (",token", "invalid fields: []"),
        ("token,,status", "invalid fields: []"),
    ],
)
def test_invalid_fields(param: str, message: str) -> None:
    with pytest.raises(InvalidFields) as caught:
        requested_fields(param)
    assert str(caught.value) == message


def test_invalid_fields_carries_the_names() -> None:
    with pytest.raises(InvalidFields) as caught:
        requested_fields("a,token,b")
    assert caught.value.names == ["a", "b"]


# --- render -------------------------------------------------------------------------------------


def test_default_fields_render_in_the_serializers_order() -> None:
    body = render(submission(ACCEPTED), requested_fields(None), base64_encoded=False)

    assert json.dumps(body) == json.dumps(
        {
            "stdout": "hello\n",
            "time": "0.012",
            "memory": 3520,
            "stderr": None,
            "token": TOKEN,
            "compile_output": None,
            "message": None,
            "status": {"id": 3, "description": "Accepted"},
        }
    )


def test_every_field_with_rails_types() -> None:
    done = submission(
        ACCEPTED,
        stdin=b"world\n",
        expected_output=b"hello\n",
        compiler_options="-O2",
        command_line_arguments="a b",
        callback_url="https://example.com/cb",
        additional_files=b"PK\x05\x06" + b"\0" * 18,
    )

    body = render(done, FIELDS, base64_encoded=False)

    assert list(body) == list(FIELDS)
    assert body == {
        "source_code": "print(input())",
        "language_id": 71,
        "stdin": "world\n",
        "expected_output": "hello\n",
        "stdout": "hello\n",
        "status_id": 3,
        "created_at": "2024-04-03T05:40:51.306Z",
        "finished_at": "2024-04-03T05:40:52.500Z",
        "time": "0.012",
        "memory": 3520,
        "stderr": None,
        "token": TOKEN,
        "number_of_runs": 1,
        "cpu_time_limit": "5.0",
        "cpu_extra_time": "1.0",
        "wall_time_limit": "10.0",
        "memory_limit": 128000,
        "stack_limit": 64000,
        "max_processes_and_or_threads": 60,
        "enable_per_process_and_thread_time_limit": False,
        "enable_per_process_and_thread_memory_limit": False,
        "max_file_size": 1024,
        "compile_output": None,
        "exit_code": 0,
        "exit_signal": None,
        "message": None,
        "wall_time": "0.05",
        "compiler_options": "-O2",
        "command_line_arguments": "a b",
        "redirect_stderr_to_stdout": False,
        "callback_url": "https://example.com/cb",
        "additional_files": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==",
        "enable_network": False,
        "status": {"id": 3, "description": "Accepted"},
        "language": {"id": 71, "name": "Python (3.8.1)"},
    }


def test_a_queued_submission_has_no_results_yet() -> None:
    body = render(submission(), FIELDS, base64_encoded=True)

    assert body["status"] == {"id": 1, "description": "In Queue"}
    assert body["status_id"] == 1
    assert body["finished_at"] is None
    for name in ("stdout", "stderr", "compile_output", "time", "wall_time", "memory"):
        assert body[name] is None
    for name in ("exit_code", "exit_signal", "message", "additional_files"):
        assert body[name] is None
    assert body["stdin"] is None
    assert body["expected_output"] is None


def test_empty_outputs_are_null_but_empty_inputs_stay_empty() -> None:
    outcome = SubmissionOutcome(
        status=Judge0Status.ACCEPTED, stdout=b"", stderr=b"", compile_output=b""
    )
    body = render(submission(outcome, stdin=b""), FIELDS, base64_encoded=False)

    assert (body["stdout"], body["stderr"], body["compile_output"]) == (None, None, None)
    assert body["stdin"] == ""
    base64_body = render(submission(outcome, stdin=b""), FIELDS, base64_encoded=True)
    assert (base64_body["stdout"], base64_body["stdin"]) == (None, "")


def test_base64_mode_encodes_the_text_fields() -> None:
    outcome = SubmissionOutcome(
        status=Judge0Status.NZEC,
        stdout=b"\xff\xfe out",
        stderr=b"Traceback\n",
        compile_output=b"warning\n",
        exit_code=1,
        message="Exited with error status 1",
    )
    done = submission(
        outcome,
        stdin=b"in",
        expected_output=b"\x00\x01",
        compiler_options="-DX='1 2'",
        command_line_arguments="é",
        additional_files=b"zip",
    )

    body = render(done, FIELDS, base64_encoded=True)

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    assert body["source_code"] == b64(b"print(input())")
    assert body["stdin"] == b64(b"in")
    assert body["expected_output"] == b64(b"\x00\x01")
    assert body["stdout"] == b64(b"\xff\xfe out")
    assert body["stderr"] == b64(b"Traceback\n")
    assert body["compile_output"] == b64(b"warning\n")
    assert body["message"] == b64(b"Exited with error status 1")
    assert body["additional_files"] == b64(b"zip")
    # Never encoded.
    assert body["compiler_options"] == "-DX='1 2'"
    assert body["command_line_arguments"] == "é"
    assert body["callback_url"] is None
    assert body["exit_code"] == 1


def test_plain_mode_sends_valid_utf8_as_text() -> None:
    outcome = SubmissionOutcome(
        status=Judge0Status.COMPILATION_ERROR, compile_output="\u2018x\u2019 undeclared".encode()
    )

    body = render(submission(outcome), ["compile_output", "status"], base64_encoded=False)

    assert body["compile_output"] == "\u2018x\u2019 undeclared"


@pytest.mark.parametrize(
    "field", ["source_code", "stdin", "expected_output", "stdout", "stderr", "compile_output"]
)
def test_plain_mode_refuses_invalid_utf8(field: str) -> None:
    bad = b"ok \xff\xfe"
    outcome = SubmissionOutcome(
        status=Judge0Status.ACCEPTED,
        stdout=bad if field == "stdout" else None,
        stderr=bad if field == "stderr" else None,
        compile_output=bad if field == "compile_output" else None,
    )
    request = {field: bad} if field in ("source_code", "stdin", "expected_output") else {}
    done = submission(outcome, **request)

    with pytest.raises(NotUtf8) as caught:
        render(done, FIELDS, base64_encoded=False)
    assert caught.value.field == field
    # Only the fields asked for are looked at, as in Judge0.
    others = [name for name in FIELDS if name != field]
    render(done, others, base64_encoded=False)
    render(done, FIELDS, base64_encoded=True)


def test_status_and_language_objects() -> None:
    outcome = SubmissionOutcome(status=Judge0Status.SIGSEGV, exit_signal=11)

    body = render(submission(outcome, language_id=54), ["status", "language"], base64_encoded=False)

    assert body == {
        "status": {"id": 7, "description": "Runtime Error (SIGSEGV)"},
        "language": {"id": 54, "name": "C++ (GCC 9.2.0)"},
    }


def test_request_limits_render_as_rails_does() -> None:
    done = submission(
        None,
        cpu_time_limit=2.5,
        cpu_extra_time=0.0,
        wall_time_limit=3.0,
        memory_limit=2048,
        enable_per_process_and_thread_time_limit=True,
        redirect_stderr_to_stdout=True,
        number_of_runs=3,
    )

    body = render(done, FIELDS, base64_encoded=False)

    assert body["cpu_time_limit"] == "2.5"
    assert body["cpu_extra_time"] == "0.0"
    assert body["wall_time_limit"] == "3.0"
    assert body["memory_limit"] == 2048
    assert body["enable_per_process_and_thread_time_limit"] is True
    assert body["redirect_stderr_to_stdout"] is True
    assert body["number_of_runs"] == 3


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.012, "0.012"),
        (0.282, "0.282"),
        (5, "5.0"),
        (5.0, "5.0"),
        (0.0, "0.0"),
        (-0.0, "0.0"),
        (15.0, "15.0"),
        (0.1, "0.1"),
        (1e-7, "0.0000001"),
        (1e20, "100000000000000000000.0"),
        (0.013333, "0.013333"),
    ],
)
def test_format_decimal(value: float, text: str) -> None:
    assert format_decimal(value) == text


@pytest.mark.parametrize(
    ("epoch_s", "text"),
    [
        (CREATED, "2024-04-03T05:40:51.306Z"),
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1712122851.9999, "2024-04-03T05:40:51.999Z"),  # truncated, not rounded
        (1712122851, "2024-04-03T05:40:51.000Z"),
    ],
)
def test_format_timestamp(epoch_s: float, text: str) -> None:
    assert format_timestamp(epoch_s) == text


# --- base64 -------------------------------------------------------------------------------------


def test_encode_base64_is_standard_padded_and_single_line() -> None:
    data = bytes(range(256)) * 4

    text = encode_base64(data)

    assert "\n" not in text
    assert base64.b64decode(text, validate=True) == data
    assert encode_base64(b"hi") == "aGk="
    assert encode_base64(b"\xfb\xff") == "+/8="


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("aGVsbG8K", b"hello\n"),
        ("aGVsbG8K\n", b"hello\n"),  # Ruby's encode64 ends lines with \n
        ("aGVs\nbG8K\r\n", b"hello\n"),
        ("aGVs bG8K", b"hello\n"),
        ("aGk=", b"hi"),
        ("aGk", b"hi"),  # missing padding
        ("aGVsbG8", b"hello"),
        ("aA==", b"h"),
        ("aA", b"h"),
        ("a", b""),  # a lone last character is dropped
        ("aGk=aGk=", b"hi"),  # padding ends the data
        ("aGVsbA=junk", b"hell"),
        ("=aGk", b"hi"),  # '=' where a group starts is skipped
        ("a=Gk", b"hi"),  # ... and where its second character belongs
        ("a=G=k", b"h"),  # ... but not where its third does
        ("aGk!@#$%", b"hi"),  # non-alphabet characters are skipped
        ("a-G_k", b"hi"),  # the URL-safe alphabet is not base64's
        ("", b""),
        ("====", b""),
        ("é€aGk", b"hi"),
        ("+/8=", b"\xfb\xff"),
    ],
)
def test_decode_base64_lenient(text: str, data: bytes) -> None:
    assert decode_base64_lenient(text) == data


def test_decode_base64_lenient_round_trips() -> None:
    data = bytes(range(256)) * 3
    encoded = base64.encodebytes(data).decode()  # with newlines every 76 characters

    assert decode_base64_lenient(encoded) == data
    for size in range(10):
        assert decode_base64_lenient(encode_base64(data[:size])) == data[:size]
