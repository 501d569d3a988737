import shlex

_SHLEX_ERRORS = {
    "No closing quotation": "has an unclosed quotation mark",
    "No escaped character": "ends with a backslash that escapes nothing",
}


def split_words(text: str) -> list[str]:
    """Words as a POSIX shell would split them (quotes, backslashes), and nothing else a shell
    does: `$(...)`, `;`, `|`, `&`, `<`, `>`, backticks, `*` and `#` stay literal characters of
    the words, because the words go to execve, never to a shell.

    Raises ValueError with a message that reads after a field name ("has an unclosed ...").
    """
    if "\0" in text:
        raise ValueError("must not contain NUL characters")
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError as exc:
        raise ValueError(
            _SHLEX_ERRORS.get(str(exc), f"cannot be split into words: {exc}")
        ) from None
