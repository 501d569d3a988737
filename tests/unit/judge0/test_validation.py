"""runakode.judge0.validation.parse_submission: Judge0 v1.13.1's model checks and messages."""

import base64
import io
import zipfile
from typing import Any

import pytest

from runakode.config import Settings
from runakode.judge0.validation import parse_submission
from runakode.sandboxes.launcher_protocol import MAX_TASKS
from runakode.submissions.record import SubmissionRequest

# Caps roomy enough that judge0.conf's values apply unchanged (messages say 15.0, 20.0...).
STOCK: dict[str, Any] = {"jobTimeout": 30, "outputMaxBytes": 8 << 20, "jobMemory": "1g"}
VALID: dict[str, Any] = {"source_code": "print(1)", "language_id": 71}


def settings(**values: Any) -> Settings:
    merged = {**STOCK, **values}
    return Settings.model_validate(merged)


def parse(
    body: dict[str, Any], *, base64_encoded: bool = False, config: Settings | None = None
) -> SubmissionRequest | dict[str, list[str]]:
    return parse_submission(body, base64_encoded=base64_encoded, settings=config or settings())


def ok(body: dict[str, Any], **kwargs: Any) -> SubmissionRequest:
    result = parse({**VALID, **body}, **kwargs)
    assert isinstance(result, SubmissionRequest), result
    return result


def errors(body: dict[str, Any], **kwargs: Any) -> dict[str, list[str]]:
    result = parse(body, **kwargs)
    assert isinstance(result, dict), result
    return result


def invalid(body: dict[str, Any], **kwargs: Any) -> dict[str, list[str]]:
    """The errors of a body that is otherwise valid."""
    return errors({**VALID, **body}, **kwargs)


def zip_bytes(*files: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files:
            archive.writestr(name, content)
    return buffer.getvalue()


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


# --- the minimal request and defaults -----------------------------------------------------------


def test_a_minimal_request_gets_judge0s_defaults() -> None:
    assert parse(VALID) == SubmissionRequest(
        source_code=b"print(1)",
        language_id=71,
        stdin=None,
        expected_output=None,
        number_of_runs=1,
        cpu_time_limit=5.0,
        cpu_extra_time=1.0,
        wall_time_limit=10.0,
        memory_limit=128000,
        stack_limit=64000,
        max_processes_and_or_threads=60,
        enable_per_process_and_thread_time_limit=False,
        enable_per_process_and_thread_memory_limit=False,
        max_file_size=1024,
        compiler_options=None,
        command_line_arguments=None,
        redirect_stderr_to_stdout=False,
        callback_url=None,
        additional_files=None,
        enable_network=False,
    )


def test_defaults_follow_the_configuration_and_its_caps() -> None:
    config = Settings.model_validate(
        {
            "jobTimeout": 4,
            "jobMemory": "64m",
            "judge0": {"numberOfRuns": 2, "redirectStderrToStdout": True, "cpuExtraTime": 0.5},
        }
    )

    request = ok({}, config=config)

    assert request.wall_time_limit == 4.0
    assert request.cpu_time_limit == 4.0
    assert request.cpu_extra_time == 0.5
    assert request.memory_limit == 65536
    assert request.max_file_size == 1024
    assert request.number_of_runs == 2
    assert request.redirect_stderr_to_stdout is True


def test_every_attribute_set() -> None:
    archive = zip_bytes(("data.txt", b"42"))
    request = ok(
        {
            "language_id": 54,
            "source_code": "int main(){}",
            "stdin": "in",
            "expected_output": "out",
            "number_of_runs": 3,
            "cpu_time_limit": 2.5,
            "cpu_extra_time": 0.5,
            "wall_time_limit": 6,
            "memory_limit": 256000,
            "stack_limit": 32000,
            "max_processes_and_or_threads": 10,
            "enable_per_process_and_thread_time_limit": True,
            "enable_per_process_and_thread_memory_limit": True,
            "max_file_size": 2048,
            "compiler_options": "-O3 -DX",
            "command_line_arguments": "a 'b c'",
            "redirect_stderr_to_stdout": True,
            "callback_url": "https://example.com/judge0",
            "additional_files": b64(archive),
            "enable_network": False,
        }
    )

    assert request == SubmissionRequest(
        source_code=b"int main(){}",
        language_id=54,
        stdin=b"in",
        expected_output=b"out",
        number_of_runs=3,
        cpu_time_limit=2.5,
        cpu_extra_time=0.5,
        wall_time_limit=6.0,
        memory_limit=256000,
        stack_limit=32000,
        max_processes_and_or_threads=10,
        enable_per_process_and_thread_time_limit=True,
        enable_per_process_and_thread_memory_limit=True,
        max_file_size=2048,
        compiler_options="-O3 -DX",
        command_line_arguments="a 'b c'",
        redirect_stderr_to_stdout=True,
        callback_url="https://example.com/judge0",
        additional_files=archive,
        enable_network=False,
    )


def test_unknown_keys_are_ignored() -> None:
    assert ok({"token": "x", "status_id": 3, "foo": [1], "id": 9}) == parse(VALID)


# --- source_code and language_id ----------------------------------------------------------------


def test_an_empty_body() -> None:
    assert errors({}) == {
        "source_code": ["can't be blank"],
        "language_id": ["can't be blank", "language with id  doesn't exist"],
    }


@pytest.mark.parametrize("source", [None, "", "   ", "\n\t\r\v\f ", [], {"a": 1}, ["print(1)"]])
def test_blank_source_code(source: Any) -> None:
    assert invalid({"source_code": source}) == {"source_code": ["can't be blank"]}


@pytest.mark.parametrize("source", ["", "   \n", "@@@", "ICAg"])  # ICAg is three spaces
def test_blank_source_code_after_base64_decoding(source: str) -> None:
    body = {"source_code": source, "language_id": 71}

    assert errors(body, base64_encoded=True) == {"source_code": ["can't be blank"]}


def test_source_code_of_other_scalar_types_is_cast_as_rails_does() -> None:
    assert ok({"source_code": 123}).source_code == b"123"
    assert ok({"source_code": 1.5}).source_code == b"1.5"
    assert ok({"source_code": True}).source_code == b"t"


def test_non_breaking_space_is_not_blank() -> None:
    assert ok({"source_code": "\u00a0"}).source_code == b"\xc2\xa0"


@pytest.mark.parametrize(
    ("language_id", "expected"),
    [
        (71, 71),
        ("71", 71),
        (" 71 ", 71),
        ("71abc", 71),  # String#to_i
        (71.9, 71),
        ("+71", 71),
    ],
)
def test_language_id_is_cast_like_an_integer_column(language_id: Any, expected: int) -> None:
    assert ok({"language_id": language_id}).language_id == expected


@pytest.mark.parametrize(
    ("language_id", "messages"),
    [
        (150000, ["language with id 150000 doesn't exist"]),
        ("150000", ["language with id 150000 doesn't exist"]),
        (-1, ["language with id -1 doesn't exist"]),
        (0, ["language with id 0 doesn't exist"]),
        ("abc", ["language with id 0 doesn't exist"]),
        (True, ["language with id 1 doesn't exist"]),
        (False, ["language with id 0 doesn't exist"]),
        (89, ["language with id 89 doesn't exist"]),  # multi-file programs: not served
        (47, ["language with id 47 doesn't exist"]),  # Basic (FreeBASIC): not in Debian
        (None, ["can't be blank", "language with id  doesn't exist"]),
        ("", ["can't be blank", "language with id  doesn't exist"]),
        ("  ", ["can't be blank", "language with id  doesn't exist"]),
        ([71], ["can't be blank", "language with id  doesn't exist"]),
        ({"id": 71}, ["can't be blank", "language with id  doesn't exist"]),
    ],
)
def test_language_id_errors(language_id: Any, messages: list[str]) -> None:
    assert invalid({"language_id": language_id}) == {"language_id": messages}


def test_ids_of_runtimes_not_served_do_not_exist() -> None:
    config = settings(supportedLanguages=["python"])

    assert ok({"language_id": 92}, config=config).language_id == 92
    assert invalid({"language_id": 50}, config=config) == {
        "language_id": ["language with id 50 doesn't exist"]
    }


# --- numbers ------------------------------------------------------------------------------------

BOUNDS = [
    ("number_of_runs", 0, "must be greater than 0"),
    ("number_of_runs", 21, "must be less than or equal to 20"),
    ("cpu_time_limit", -0.1, "must be greater than or equal to 0"),
    ("cpu_time_limit", 15.01, "must be less than or equal to 15.0"),
    ("cpu_extra_time", -1, "must be greater than or equal to 0"),
    ("cpu_extra_time", 6, "must be less than or equal to 5.0"),
    ("wall_time_limit", 0.5, "must be greater than or equal to 1"),
    ("wall_time_limit", 0, "must be greater than or equal to 1"),
    ("wall_time_limit", 21, "must be less than or equal to 20.0"),
    ("memory_limit", 2047, "must be greater than or equal to 2048"),
    ("memory_limit", 512001, "must be less than or equal to 512000"),
    ("stack_limit", -1, "must be greater than or equal to 0"),
    ("stack_limit", 128001, "must be less than or equal to 128000"),
    ("max_processes_and_or_threads", 0, "must be greater than 0"),
    ("max_processes_and_or_threads", MAX_TASKS + 1, f"must be less than or equal to {MAX_TASKS}"),
    ("max_file_size", -1, "must be greater than or equal to 0"),
    ("max_file_size", 4097, "must be less than or equal to 4096"),
]


@pytest.mark.parametrize(("name", "value", "message"), BOUNDS)
def test_numeric_bounds(name: str, value: float, message: str) -> None:
    assert invalid({name: value}) == {name: [message]}
    assert invalid({name: str(value)}) == {name: [message]}


EDGES = [
    ("number_of_runs", 1),
    ("number_of_runs", 20),
    ("cpu_time_limit", 0),
    ("cpu_time_limit", 15),
    ("cpu_extra_time", 0),
    ("cpu_extra_time", 5),
    ("wall_time_limit", 1),
    ("wall_time_limit", 20),
    ("memory_limit", 2048),
    ("memory_limit", 512000),
    ("stack_limit", 0),
    ("stack_limit", 128000),
    ("max_processes_and_or_threads", 1),
    ("max_processes_and_or_threads", MAX_TASKS),
    ("max_file_size", 0),
    ("max_file_size", 4096),
]


@pytest.mark.parametrize(("name", "value"), EDGES)
def test_numeric_edges_are_accepted(name: str, value: int) -> None:
    request = ok({name: value})

    assert getattr(request, name) == value
    assert type(getattr(request, name)) is type(getattr(parse(VALID), name))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.5", 2.5),
        (" 3 ", 3.0),
        ("\t3\n", 3.0),
        ("+2", 2.0),
        ("1_0", 10.0),
        ("1e1", 10.0),
        ("1.5E-1", 0.15),
        (".5", 0.5),
        (2, 2.0),
        (False, 0.0),  # Rails: false casts to 0, and 0 is valid here
        (None, 5.0),
        ("", 5.0),
        ("   ", 5.0),
        ([], 5.0),
        ({"a": 1}, 5.0),
    ],
)
def test_numeric_strings_and_defaults(value: Any, expected: float) -> None:
    assert ok({"cpu_time_limit": value}).cpu_time_limit == expected


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "1.",
        "1e",
        "0x10",
        "0X1A",
        "1,5",
        "1 2",
        "1__0",
        "_1",
        "--1",
        "½",
        "\u00a01",
        True,
        "Infinity",
        "NaN",
        float("nan"),
        float("inf"),
    ],
)
def test_not_a_number(value: Any) -> None:
    assert invalid({"cpu_time_limit": value}) == {"cpu_time_limit": ["is not a number"]}
    assert invalid({"memory_limit": value}) == {"memory_limit": ["is not a number"]}


def test_zero_is_kept_and_validated_not_replaced_by_the_default() -> None:
    assert invalid({"number_of_runs": 0}) == {"number_of_runs": ["must be greater than 0"]}
    assert invalid({"number_of_runs": False}) == {"number_of_runs": ["must be greater than 0"]}
    assert ok({"stack_limit": 0}).stack_limit == 0


def test_huge_numbers_are_refused_not_crashed_on() -> None:
    assert invalid({"memory_limit": "1e400"}) == {
        "memory_limit": ["must be less than or equal to 512000"]
    }
    assert invalid({"memory_limit": "9" * 5000}) == {
        "memory_limit": ["must be less than or equal to 512000"]
    }
    assert invalid({"memory_limit": 10**30}) == {
        "memory_limit": ["must be less than or equal to 512000"]
    }


def test_integer_attributes_keep_the_integer_part() -> None:
    assert ok({"memory_limit": "130000.7"}).memory_limit == 130000
    assert ok({"memory_limit": 130000.7}).memory_limit == 130000
    assert ok({"memory_limit": "1e4"}).memory_limit == 10000
    # Checked on that integer part, so a fraction never becomes zero runs.
    assert invalid({"number_of_runs": "0.5"}) == {"number_of_runs": ["must be greater than 0"]}


def test_maxima_are_capped_by_the_sandbox() -> None:
    config = Settings.model_validate({"jobTimeout": 5, "jobMemory": "256m"})

    assert invalid({"wall_time_limit": 6}, config=config) == {
        "wall_time_limit": ["must be less than or equal to 5.0"]
    }
    assert invalid({"cpu_time_limit": 5.5}, config=config) == {
        "cpu_time_limit": ["must be less than or equal to 5.0"]
    }
    assert invalid({"memory_limit": 262145}, config=config) == {
        "memory_limit": ["must be less than or equal to 262144"]
    }
    assert invalid({"max_file_size": 1025}, config=config) == {
        "max_file_size": ["must be less than or equal to 1024"]
    }


def test_configured_maxima_appear_in_the_messages() -> None:
    config = settings(judge0={"maxCpuTimeLimit": 2.5, "maxNumberOfRuns": 3})

    assert invalid({"cpu_time_limit": 3}, config=config) == {
        "cpu_time_limit": ["must be less than or equal to 2.5"]
    }
    assert invalid({"number_of_runs": 4}, config=config) == {
        "number_of_runs": ["must be less than or equal to 3"]
    }


# --- booleans -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("false", False),
        ("1", True),
        ("0", False),
        ("t", True),
        ("f", False),
        ("F", False),
        ("FALSE", False),
        ("off", False),
        ("OFF", False),
        ("on", True),
        ("yes", True),
        ("no", True),  # Rails: anything not in its false list is true
        ("False", True),
        (" ", True),
        (1, True),
        (0, False),
        (2, True),
        (0.0, True),  # Rails 5.2 looks floats up in a Set: 0.0 is not 0
        ("", False),  # unset: the default
        (None, False),
        ([True], False),
    ],
)
def test_booleans_are_cast_as_rails_does(value: Any, expected: bool) -> None:
    assert ok({"redirect_stderr_to_stdout": value}).redirect_stderr_to_stdout is expected


def test_unset_booleans_take_the_configured_default() -> None:
    config = settings(judge0={"redirectStderrToStdout": True})

    assert ok({}, config=config).redirect_stderr_to_stdout is True
    assert ok({"redirect_stderr_to_stdout": ""}, config=config).redirect_stderr_to_stdout is True
    assert ok({"redirect_stderr_to_stdout": "0"}, config=config).redirect_stderr_to_stdout is False


@pytest.mark.parametrize(
    "name",
    ["enable_per_process_and_thread_time_limit", "enable_per_process_and_thread_memory_limit"],
)
def test_per_process_limits_can_be_forbidden(name: str) -> None:
    key = "allowEnablePerProcessAndThread" + ("TimeLimit" if "time" in name else "MemoryLimit")
    config = settings(judge0={key: False})

    assert invalid({name: True}, config=config) == {name: ["this option cannot be enabled"]}
    assert invalid({name: "true"}, config=config) == {name: ["this option cannot be enabled"]}
    assert getattr(ok({name: False}, config=config), name) is False
    assert getattr(ok({name: True}), name) is True


@pytest.mark.parametrize("value", [True, "true", "1", 1, "yes"])
def test_network_is_never_allowed(value: Any) -> None:
    assert invalid({"enable_network": value}) == {
        "enable_network": ["enabling network is not allowed"]
    }


@pytest.mark.parametrize("value", [False, "false", "0", 0, None, ""])
def test_network_off_is_fine(value: Any) -> None:
    assert ok({"enable_network": value}).enable_network is False


# --- compiler options and command line arguments ------------------------------------------------

C = {"language_id": 50, "source_code": "int main(){}"}


def test_compiler_options_for_a_compiled_language() -> None:
    request = ok({**C, "compiler_options": "-O3 -Wall '-DX=a b'"})

    assert request.compiler_options == "-O3 -Wall '-DX=a b'"


def test_compiler_options_are_kept_as_given_even_with_shell_characters() -> None:
    options = "-DA=$(id) ; rm -rf / `x` | y"

    assert ok({**C, "compiler_options": options}).compiler_options == options


@pytest.mark.parametrize(
    ("body", "config", "messages"),
    [
        (
            {"compiler_options": "x" * 513},
            {},
            ["is too long (maximum is 512 characters)"],
        ),
        (
            {"compiler_options": "-O2"},
            {"judge0": {"enableCompilerOptions": False}},
            ["setting compiler options is not allowed"],
        ),
        (
            {"compiler_options": "-O2", "language_id": 71, "source_code": "x"},
            {},
            ["setting compiler options is only allowed for compiled languages"],
        ),
        (
            {"compiler_options": "x" * 600, "language_id": 71, "source_code": "x"},
            {},
            [
                "is too long (maximum is 512 characters)",
                "setting compiler options is only allowed for compiled languages",
            ],
        ),
        (
            {"compiler_options": "-O2"},
            {"judge0": {"allowedLanguagesForCompileOptions": ["C++"]}},
            ["setting compiler options is only allowed for C++"],
        ),
        (
            {"compiler_options": "-O2", "language_id": 62, "source_code": "x"},
            {"judge0": {"allowedLanguagesForCompileOptions": ["C", "C++", "Go"]}},
            ["setting compiler options is only allowed for C, C++ and Go"],
        ),
        (
            {"compiler_options": "-DX='unclosed"},
            {},
            ["has an unclosed quotation mark"],
        ),
        (
            {"compiler_options": "-DX\\"},
            {},
            ["ends with a backslash that escapes nothing"],
        ),
        (
            {"compiler_options": "a\0b"},
            {},
            ["must not contain NUL characters"],
        ),
        (
            {"compiler_options": "-D\ud800"},
            {},
            ["cannot be encoded as UTF-8 (it contains a lone surrogate)"],
        ),
    ],
)
def test_compiler_options_errors(
    body: dict[str, Any], config: dict[str, Any], messages: list[str]
) -> None:
    assert errors({**C, **body}, config=settings(**config)) == {"compiler_options": messages}


def test_compiler_options_allowed_by_name_prefix() -> None:
    config = settings(judge0={"allowedLanguagesForCompileOptions": ["C"]})

    assert ok({**C, "compiler_options": "-O2"}, config=config).compiler_options == "-O2"
    # "C " is not a prefix of "C++ (GCC 9.2.0)".
    assert invalid({"language_id": 54, "compiler_options": "-O2"}, config=config) == {
        "compiler_options": ["setting compiler options is only allowed for C"]
    }


@pytest.mark.parametrize("options", ["", "   ", None])
def test_blank_compiler_options_are_never_refused(options: Any) -> None:
    config = settings(judge0={"enableCompilerOptions": False})

    assert ok({"compiler_options": options}, config=config).compiler_options == options


def test_compiler_options_for_an_unknown_language_are_only_split() -> None:
    assert errors({**C, "language_id": 999, "compiler_options": "'x"}) == {
        "language_id": ["language with id 999 doesn't exist"],
        "compiler_options": ["has an unclosed quotation mark"],
    }


def test_command_line_arguments() -> None:
    request = ok({"command_line_arguments": "a 'b c' $(d) ;"})

    assert request.command_line_arguments == "a 'b c' $(d) ;"
    assert ok({"command_line_arguments": 42}).command_line_arguments == "42"


@pytest.mark.parametrize(
    ("body", "config", "messages"),
    [
        ({"command_line_arguments": "x" * 513}, {}, ["is too long (maximum is 512 characters)"]),
        (
            {"command_line_arguments": "a"},
            {"judge0": {"enableCommandLineArguments": False}},
            ["setting command line arguments is not allowed"],
        ),
        (
            {"command_line_arguments": "x" * 513},
            {"judge0": {"enableCommandLineArguments": False}},
            [
                "is too long (maximum is 512 characters)",
                "setting command line arguments is not allowed",
            ],
        ),
        ({"command_line_arguments": '"a'}, {}, ["has an unclosed quotation mark"]),
    ],
)
def test_command_line_arguments_errors(
    body: dict[str, Any], config: dict[str, Any], messages: list[str]
) -> None:
    assert invalid(body, config=settings(**config)) == {"command_line_arguments": messages}


def test_512_characters_are_fine() -> None:
    assert ok({"command_line_arguments": "é" * 512}).command_line_arguments == "é" * 512


# --- callback_url -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/cb",
        "https://example.com:8443/a/b?c=d#e",
        "HTTP://EXAMPLE.COM",
        "http://10.0.0.1/",  # the SSRF check is made when calling, not here
        "http://[::1]:8080/",
        "http://user:pw@example.com/",
    ],
)
def test_callback_urls_accepted(url: str) -> None:
    assert ok({"callback_url": url}).callback_url == url


@pytest.mark.parametrize(
    "url",
    [
        "example.com/cb",
        "ftp://example.com/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://",
        "http:///path",
        "http://exa mple.com/",
        "http://example.com/\n",
        "http://[::1/",
        "http://example.com:port/",
        "http://example.com:99999/",
        "http://\ud800.com/",
        "123",
    ],
)
def test_callback_urls_refused(url: str) -> None:
    assert invalid({"callback_url": url}) == {"callback_url": ["is not a valid URL"]}


def test_callbacks_disabled() -> None:
    config = settings(callbacks={"enabled": False})

    assert invalid({"callback_url": "http://example.com"}, config=config) == {
        "callback_url": ["setting callback is not allowed"]
    }
    assert invalid({"callback_url": "not a url"}, config=config) == {
        "callback_url": ["setting callback is not allowed"]
    }


@pytest.mark.parametrize("url", ["", "   ", None, ["http://x.com"]])
def test_blank_callback_url_means_none(url: Any) -> None:
    config = settings(callbacks={"enabled": False})

    assert ok({"callback_url": url}, config=config).callback_url is None


# --- additional_files ---------------------------------------------------------------------------


def test_additional_files_are_always_base64() -> None:
    archive = zip_bytes(("a.txt", b"1"))

    assert ok({"additional_files": b64(archive)}).additional_files == archive
    assert (
        ok(
            {"source_code": b64("print(1)"), "additional_files": b64(archive)}, base64_encoded=True
        ).additional_files
        == archive
    )


def test_additional_files_base64_is_decoded_leniently() -> None:
    archive = zip_bytes(("a.txt", b"1"))
    wrapped = base64.encodebytes(archive).decode()  # line breaks every 76 characters

    assert ok({"additional_files": wrapped}).additional_files == archive


@pytest.mark.parametrize("value", ["", "@@@", "ICAg", None, [b64(zip_bytes())]])
def test_blank_additional_files_mean_none(value: Any) -> None:
    config = settings(judge0={"enableAdditionalFiles": False})

    assert ok({"additional_files": value}, config=config).additional_files is None


def test_additional_files_disabled() -> None:
    config = settings(judge0={"enableAdditionalFiles": False})

    assert invalid({"additional_files": b64(zip_bytes(("a", b"1")))}, config=config) == {
        "additional_files": ["setting additional files is not allowed"]
    }


def test_additional_files_must_be_a_zip() -> None:
    assert invalid({"additional_files": b64("not a zip")}) == {
        "additional_files": ["is not a valid zip archive"]
    }


def test_additional_files_must_be_safe() -> None:
    info = zipfile.ZipInfo("x")
    info.filename = "../../etc/cron.d/x"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, b"* * * * * root sh")

    assert invalid({"additional_files": b64(buffer.getvalue())}) == {
        "additional_files": ["entry '../../etc/cron.d/x' points outside the working directory"]
    }


def test_additional_files_within_the_extract_size() -> None:
    config = settings(judge0={"maxExtractSize": 1})  # KB
    fits = zip_bytes(("a", b"x" * 1024))
    too_big = zip_bytes(("a", b"x" * 1025))

    assert ok({"additional_files": b64(fits)}, config=config).additional_files == fits
    assert invalid({"additional_files": b64(too_big)}, config=config) == {
        "additional_files": ["would extract to more than 1024 bytes"]
    }


# --- base64 and UTF-8 ---------------------------------------------------------------------------


def test_base64_encoded_source_stdin_and_expected_output_are_decoded() -> None:
    request = ok(
        {
            "language_id": 50,
            "source_code": base64.encodebytes(b"print(input())\n").decode(),
            "stdin": "aGk",  # no padding
            "expected_output": "\xffaGk=",  # junk is skipped
            "compiler_options": "aGk=",
            "command_line_arguments": "aGk=",
        },
        base64_encoded=True,
    )

    assert request.source_code == b"print(input())\n"
    assert request.stdin == b"hi"
    assert request.expected_output == b"hi"
    # Never base64.
    assert request.compiler_options == "aGk="
    assert request.command_line_arguments == "aGk="


def test_base64_mode_carries_any_bytes() -> None:
    request = ok({"source_code": b64(b"\xff\xfe\x00"), "stdin": b64(b"\x80")}, base64_encoded=True)

    assert (request.source_code, request.stdin) == (b"\xff\xfe\x00", b"\x80")


def test_empty_stdin_stays_empty() -> None:
    assert ok({"stdin": ""}).stdin == b""
    assert ok({"stdin": "", "source_code": b64("x")}, base64_encoded=True).stdin == b""
    assert ok({}).stdin is None


def test_plain_text_is_stored_as_utf8() -> None:
    request = ok({"source_code": "print('é€😀')", "stdin": "ü", "expected_output": "ß"})

    assert request.source_code == "print('é€😀')".encode()
    assert (request.stdin, request.expected_output) == ("ü".encode(), "ß".encode())


def test_lone_surrogates_cannot_be_stored() -> None:
    message = "cannot be encoded as UTF-8 (it contains a lone surrogate)"

    assert invalid({"source_code": "x\ud800"}) == {"source_code": [message]}
    assert invalid({"stdin": "\udfff", "expected_output": "\ud800"}) == {
        "stdin": [message],
        "expected_output": [message],
    }


# --- the order of the keys ----------------------------------------------------------------------


def test_keys_follow_the_order_rails_adds_errors_in() -> None:
    config = settings(
        callbacks={"enabled": False},
        judge0={"enableAdditionalFiles": False, "allowEnablePerProcessAndThreadTimeLimit": False},
    )
    body = {
        "source_code": "",
        "stdin": "\ud800",
        "enable_network": True,
        "additional_files": b64(zip_bytes(("a", b"1"))),
        "callback_url": "http://x.com",
        "command_line_arguments": "x" * 513,
        "compiler_options": "y" * 513,
        "max_file_size": -1,
        "enable_per_process_and_thread_time_limit": "maybe",
        "max_processes_and_or_threads": 0,
        "stack_limit": "big",
        "memory_limit": 1,
        "wall_time_limit": 99,
        "cpu_extra_time": -1,
        "cpu_time_limit": 99,
        "number_of_runs": 0,
    }

    result = errors(body, config=config)

    assert list(result) == [
        "source_code",
        "language_id",
        "number_of_runs",
        "cpu_time_limit",
        "cpu_extra_time",
        "wall_time_limit",
        "memory_limit",
        "stack_limit",
        "max_processes_and_or_threads",
        "enable_per_process_and_thread_time_limit",
        "max_file_size",
        "compiler_options",
        "command_line_arguments",
        "callback_url",
        "additional_files",
        "enable_network",
        "stdin",
    ]
    assert result["language_id"] == ["can't be blank", "language with id  doesn't exist"]
    assert result["stack_limit"] == ["is not a number"]
    assert result["compiler_options"] == ["is too long (maximum is 512 characters)"]


def test_a_language_error_comes_after_the_attribute_checks_when_the_id_is_given() -> None:
    result = errors({"source_code": "x", "language_id": 150000, "number_of_runs": 0})

    assert list(result) == ["number_of_runs", "language_id"]


def test_a_missing_language_comes_before_the_attribute_checks() -> None:
    result = errors({"source_code": "x", "number_of_runs": 0})

    assert list(result) == ["language_id", "number_of_runs"]
    assert result["language_id"] == ["can't be blank", "language with id  doesn't exist"]


def test_docs_examples() -> None:
    assert invalid({"language_id": 150000}) == {
        "language_id": ["language with id 150000 doesn't exist"]
    }
    assert invalid({"wall_time_limit": 21}) == {
        "wall_time_limit": ["must be less than or equal to 20.0"]
    }
    assert errors({"language_id": 71}) == {"source_code": ["can't be blank"]}


def test_a_language_whose_image_is_missing_is_refused_with_the_reason() -> None:
    body = {**VALID, "language_id": 71}
    refused = parse_submission(
        body, base64_encoded=False, settings=settings(), unavailable={"python"}
    )
    assert refused == {
        "language_id": [
            "language with id 71 is unavailable on this service (its sandbox image is not built)"
        ]
    }
    accepted = parse_submission(body, base64_encoded=False, settings=settings(), unavailable={"go"})
    assert isinstance(accepted, SubmissionRequest)
