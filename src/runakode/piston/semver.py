"""node-semver's `satisfies`, for the version ranges Piston's clients send ("*", "3", "3.x",
"^3.10", ">=3.9 <4", "3.11.2"): enough of its grammar for release versions, which are the only
kind a runtime here has."""

import re
from dataclasses import dataclass

_PARTIAL = re.compile(
    r"^v?(?P<major>\d+|[xX*])"
    r"(?:\.(?P<minor>\d+|[xX*])"
    r"(?:\.(?P<patch>\d+|[xX*])"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?"
    r"(?:\+[0-9A-Za-z.-]+)?)?)?$"
)
_COMPARATOR = re.compile(r"^(?P<op><=|>=|<|>|=|~>?|\^)?\s*(?P<version>\S*)$")
_HYPHEN = re.compile(r"^(?P<low>\S+)\s+-\s+(?P<high>\S+)$")
_VERSION_IN_TEXT = re.compile(r"\d+(?:\.\d+){0,2}")
_WILDCARDS = ("x", "X", "*")

# A version as node-semver orders it: a prerelease comes before its release.
Key = tuple[int, int, int, int]


@dataclass(frozen=True)
class _Partial:
    """A version with the parts it names: 3 is (3, None, None)."""

    major: int | None
    minor: int | None
    patch: int | None
    prerelease: bool

    def low(self) -> Key:
        return (self.major or 0, self.minor or 0, self.patch or 0, 0 if self.prerelease else 1)


@dataclass(frozen=True)
class _Comparator:
    op: str
    key: Key

    def admits(self, key: Key) -> bool:
        if self.op == "<":
            return key < self.key
        if self.op == "<=":
            return key <= self.key
        if self.op == ">":
            return key > self.key
        if self.op == ">=":
            return key >= self.key
        return key == self.key


class InvalidRange(ValueError):
    pass


def version_from_text(text: str) -> str | None:
    """The semver of a version banner: "Python 3.11.2" -> 3.11.2, "go1.19" -> 1.19.0."""
    match = _VERSION_IN_TEXT.search(text)
    if match is None:
        return None
    parts = [str(int(part)) for part in match.group().split(".")]
    return ".".join([*parts, "0", "0"][:3])


def parse_version(version: str) -> Key:
    partial = _partial(version)
    if partial.major is None or partial.minor is None or partial.patch is None:
        raise InvalidRange(f"not a full version: {version!r}")
    return partial.low()


def satisfies(version: str, range_text: str) -> bool:
    """node-semver's satisfies(version, range): False for a range it cannot parse."""
    try:
        key = parse_version(version)
        alternatives = [_comparators(part.strip()) for part in range_text.split("||")]
    except InvalidRange:
        return False
    return any(all(c.admits(key) for c in comparators) for comparators in alternatives)


def _partial(text: str) -> _Partial:
    match = _PARTIAL.match(text.strip().lstrip("="))
    if match is None:
        raise InvalidRange(f"not a version: {text!r}")
    parts: list[int | None] = []
    for name in ("major", "minor", "patch"):
        value = match.group(name)
        # Once a part is a wildcard or missing, every part after it is too.
        if value is None or value in _WILDCARDS or (parts and parts[-1] is None):
            parts.append(None)
        else:
            parts.append(int(value))
    return _Partial(parts[0], parts[1], parts[2], match.group("pre") is not None)


def _next(partial: _Partial) -> Key:
    """The first version above every version the partial names: 3.11 -> 3.12.0-0."""
    if partial.major is None:
        raise InvalidRange("no upper bound for *")
    if partial.minor is None:
        return (partial.major + 1, 0, 0, 0)
    if partial.patch is None:
        return (partial.major, partial.minor + 1, 0, 0)
    return (partial.major, partial.minor, partial.patch + 1, 0)


def _comparators(text: str) -> list[_Comparator]:
    if not text:
        return []
    if hyphen := _HYPHEN.match(text):
        low, high = _partial(hyphen.group("low")), _partial(hyphen.group("high"))
        upper = (
            [_Comparator("<=", high.low())]
            if high.patch is not None
            else [_Comparator("<", _next(high))]
            if high.major is not None
            else []
        )
        return [_Comparator(">=", low.low()), *upper]
    comparators: list[_Comparator] = []
    # ">= 3.9" is one comparator: glue operators to the version after them.
    for token in re.sub(r"(<=|>=|<|>|=|~>?|\^)\s+", r"\1", text).split():
        match = _COMPARATOR.match(token)
        if match is None:
            raise InvalidRange(f"not a comparator: {token!r}")
        comparators.extend(_desugar(match.group("op") or "", _partial(match.group("version"))))
    return comparators


def _desugar(op: str, partial: _Partial) -> list[_Comparator]:
    """One comparator as plain bounds, node-semver's way."""
    low = partial.low()
    if partial.major is None:
        # *, x, >=*: everything; <*, >*: nothing.
        return [_Comparator("<", (0, 0, 0, 0))] if op in ("<", ">") else []
    exact = partial.patch is not None
    if op in ("", "="):
        if exact:
            return [_Comparator("=", low)]
        return [_Comparator(">=", low), _Comparator("<", _next(partial))]
    if op in ("~", "~>"):
        cut = _Partial(partial.major, partial.minor, None, False)
        return [_Comparator(">=", low), _Comparator("<", _next(cut))]
    if op == "^":
        if partial.major > 0 or partial.minor is None:
            cut = _Partial(partial.major, None, None, False)
        elif partial.minor > 0 or partial.patch is None:
            cut = _Partial(partial.major, partial.minor, None, False)
        else:
            return [_Comparator("=", low)]
        return [_Comparator(">=", low), _Comparator("<", _next(cut))]
    if op == ">":
        return [_Comparator(">", low) if exact else _Comparator(">=", _next(partial))]
    if op == ">=":
        return [_Comparator(">=", low)]
    if op == "<":
        return [_Comparator("<", low)]
    # <=
    return [_Comparator("<=", low) if exact else _Comparator("<", _next(partial))]
