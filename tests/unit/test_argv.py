"""runakode.argv.split_words: shell-style words, without a shell."""

import pytest

from runakode.argv import split_words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", []),
        ("   \t\n", []),
        ("a b  c", ["a", "b", "c"]),
        ("-O2 -Wall -DNAME=1", ["-O2", "-Wall", "-DNAME=1"]),
        ('"a b" c', ["a b", "c"]),
        ("'a b' c", ["a b", "c"]),
        ("a\\ b", ["a b"]),
        ("x'y z'w", ["xy zw"]),
        ('"it\'s"', ["it's"]),
        ("''", [""]),
        # Nothing a shell would interpret is interpreted.
        ("$(whoami)", ["$(whoami)"]),
        ("'$(rm -rf /)'", ["$(rm -rf /)"]),
        ("$HOME", ["$HOME"]),
        ('"$HOME"', ["$HOME"]),
        ("`id`", ["`id`"]),
        ("a;b", ["a;b"]),
        ("a ; reboot", ["a", ";", "reboot"]),
        ("a|b", ["a|b"]),
        ("a && b || c", ["a", "&&", "b", "||", "c"]),
        ("> /etc/passwd", [">", "/etc/passwd"]),
        ("<in", ["<in"]),
        ("*.c ~ ?", ["*.c", "~", "?"]),
        ("#not-a-comment x", ["#not-a-comment", "x"]),
        ("é ü", ["é", "ü"]),
    ],
)
def test_split_words(text: str, words: list[str]) -> None:
    assert split_words(text) == words


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"unclosed', "has an unclosed quotation mark"),
        ("'unclosed", "has an unclosed quotation mark"),
        ("a 'b\" c", "has an unclosed quotation mark"),
        ("trailing\\", "ends with a backslash that escapes nothing"),
        ("a\0b", "must not contain NUL characters"),
    ],
)
def test_split_words_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        split_words(text)
    assert str(caught.value) == message
