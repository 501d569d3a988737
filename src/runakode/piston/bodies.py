"""Request bodies as Piston's clients really send them: JSON under any content type (piston-client
sends text/plain), or a form (pistonapi posts `files=<code>&args=a&args=b`)."""

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from runakode.errors import BadRequest

FORM_TYPE = "application/x-www-form-urlencoded"
# Form values that Piston reads as numbers.
NUMERIC_FIELDS = frozenset(
    f"{stage}_{limit}"
    for stage in ("compile", "run")
    for limit in ("timeout", "cpu_time", "memory_limit")
)
_NUMBER = re.compile(r"^\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
# As the qs library under Express: at most this many bracket levels, and this many fields.
MAX_DEPTH = 5
MAX_FIELDS = 1000


def decode_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """The body's fields: JSON whatever the content type, else a form if it says it is one."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        if content_type.split(";")[0].strip().lower() == FORM_TYPE:
            return read_form(raw.decode("utf-8", errors="replace"))
        detail = (
            f" ({exc.msg} at position {exc.pos})" if isinstance(exc, json.JSONDecodeError) else ""
        )
        raise BadRequest(f"request body is not valid JSON{detail}") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_form(text: str) -> dict[str, Any]:
    """A form as Express (qs, extended) reads it, plus pistonapi's shapes: a repeated key is a
    list, `a[]`, `a[0]` and `a[0][b]` nest, and `files` given as bare strings are file contents."""
    fields: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True)[:MAX_FIELDS]:
        _assign(fields, _key_path(key), value)
    data = {key: _lists(value) for key, value in fields.items()}
    files = data.get("files")
    if files is not None:
        items = files if isinstance(files, list) else [files]
        data["files"] = [{"content": item} if isinstance(item, str) else item for item in items]
    if isinstance(data.get("args"), str):
        data["args"] = [data["args"]]
    for name in NUMERIC_FIELDS & data.keys():
        value = data[name]
        if isinstance(value, str) and _NUMBER.match(value):
            number = float(value)
            data[name] = int(number) if number.is_integer() and "." not in value else number
    return data


def _key_path(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    if not rest or not head:
        return [key]
    parts = _BRACKETS.findall("[" + rest)
    return [head, *parts[:MAX_DEPTH]]


# A list under construction: numbered entries, so `a[1]=x&a[0]=y` ends up in order.
class _Numbered(dict[int, Any]):
    pass


def _assign(container: dict[Any, Any], path: list[str], value: str) -> None:
    key: Any = path[0]
    if isinstance(container, _Numbered):
        key = len(container) if key == "" else int(key)
    if len(path) == 1:
        if key in container:
            previous = container[key]
            container[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            container[key] = value
        return
    following = path[1]
    child = container.get(key)
    if not isinstance(child, dict):
        child = _Numbered() if _is_index(following) else {}
        container[key] = child
    elif isinstance(child, _Numbered) and not _is_index(following):
        child = container[key] = {str(index): item for index, item in child.items()}
    _assign(child, path[1:], value)


def _is_index(key: str) -> bool:
    """`files[]` or `files[0]`: a list's item. ASCII digits only ("²" is a digit to Python)."""
    return key == "" or (key.isascii() and key.isdigit())


def _lists(value: Any) -> Any:
    if isinstance(value, _Numbered):
        return [_lists(value[index]) for index in sorted(value)]
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    return value
