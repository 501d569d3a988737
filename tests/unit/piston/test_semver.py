"""piston.semver: version ranges (node-semver's satisfies) and version banners."""

import pytest

from runakode.piston.semver import satisfies, version_from_text


@pytest.mark.parametrize(
    ("version", "range_text", "expected"),
    [
        ("3.11.2", "*", True),
        ("3.11.2", "", True),
        ("3.11.2", "x", True),
        ("3.11.2", "3", True),
        ("3.11.2", "3.x", True),
        ("3.11.2", "3.11.x", True),
        ("3.11.2", "3.11.*", True),
        ("3.11.2", "3.11.2", True),
        ("3.11.2", "=3.11.2", True),
        ("3.11.2", "v3.11.2", True),
        ("3.11.2", "3.11.0", False),
        ("3.11.2", "3.10", False),
        ("3.11.2", "2", False),
        ("3.11.2", "^3.10", True),
        ("3.11.2", "^3.12", False),
        ("3.11.2", "~3.11.0", True),
        ("3.11.2", "~3.10", False),
        ("0.2.5", "^0.2.3", True),
        ("0.3.0", "^0.2.3", False),
        ("0.0.4", "^0.0.3", False),
        ("3.11.2", ">=3.9 <4", True),
        ("3.11.2", ">= 3.9 < 3.11", False),
        ("3.11.2", ">3.11", False),
        ("3.11.2", ">3.10", True),
        ("3.11.2", "<3.11", False),
        ("3.11.2", "<=3.11", True),
        ("3.11.2", "3.10 - 3.12", True),
        ("3.11.2", "3.11.3 - 4", False),
        ("3.11.2", "2 || 3", True),
        ("3.11.2", "1 || 2", False),
        # Prereleases sort before their release.
        ("3.11.2", "3.11.2-beta", False),
        ("3.11.2", ">3.11.2-beta", True),
        ("3.11.2", "not a range", False),
        ("3.11.2", ">=", False),
    ],
)
def test_satisfies_as_node_semver(version: str, range_text: str, expected: bool) -> None:
    assert satisfies(version, range_text) is expected


@pytest.mark.parametrize(
    ("banner", "version"),
    [
        ("Python 3.11.2", "3.11.2"),
        ("go1.19.8", "1.19.8"),
        ("node v18.19.0", "18.19.0"),
        ("openjdk 17.0.6", "17.0.6"),
        ("rustc 1.63.0", "1.63.0"),
        ("openjdk 21", "21.0.0"),
        ("go1.22", "1.22.0"),
        ("no digits", None),
    ],
)
def test_version_from_banner(banner: str, version: str | None) -> None:
    assert version_from_text(banner) == version
