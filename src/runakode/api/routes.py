"""Which family a path belongs to, and what each path may cost: shared by the middlewares."""

# Answered without an API key: monitoring, and the description of the API itself.
OPEN_PATHS = frozenset({"/health", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect"})
# Requests that create work: the rate limit applies to these, never to polling a result.
CREATING_WORK = frozenset(
    {
        ("POST", "/api"),
        ("POST", "/execute"),
        ("POST", "/submissions"),
        ("POST", "/submissions/batch"),
    }
)
# A native request carries one program (1 MiB); a Judge0 batch carries up to 20 with their
# stdin, expected output and a zip of up to 10 MB of extra files, base64-encoded.
NATIVE_MAX_BODY_BYTES = 1 << 20
JUDGE0_MAX_BODY_BYTES = 32 << 20


def is_native(path: str) -> bool:
    return path in ("/api", "/execute") or path.startswith("/api/")


def max_body_bytes(path: str) -> int:
    return NATIVE_MAX_BODY_BYTES if is_native(path) else JUDGE0_MAX_BODY_BYTES
