"""Which family a path belongs to, and what each path may cost: shared by the middlewares."""

from runakode.playground import PLAYGROUND_PREFIX

# Answered without an API key: monitoring, the description of the API itself, and the
# playground's page and assets (it asks for a key and sends it with its runs).
OPEN_PATHS = frozenset(
    {"/health", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/"}
)


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(PLAYGROUND_PREFIX + "/")


# Requests that create work: the rate limit applies to these, never to polling a result.
CREATING_WORK = frozenset(
    {
        ("POST", "/api"),
        ("POST", "/execute"),
        ("POST", "/submissions"),
        ("POST", "/submissions/batch"),
        ("POST", "/api/v2/execute"),
        ("POST", "/api/v2/piston/execute"),
        ("POST", "/api/v1/piston/execute"),
    }
)
# WebSockets that start a live run: rate-limited like the requests above.
LIVE_PATHS = frozenset({"/api/ws", "/api/v2/connect"})
# A native request carries one program (1 MiB); a Judge0 batch carries up to 20 with their
# stdin, expected output and a zip of up to 10 MB of extra files, base64-encoded.
# A Piston request carries files, binary ones base64- or hex-encoded (Piston itself: 100 kB).
NATIVE_MAX_BODY_BYTES = 1 << 20
JUDGE0_MAX_BODY_BYTES = 32 << 20
PISTON_MAX_BODY_BYTES = 8 << 20
# Piston's routes: v2 (self-hosted and emkc.org layouts) and emkc.org's v1.
PISTON_PREFIXES = ("/api/v2", "/api/v1")


def is_piston(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PISTON_PREFIXES)


def is_native(path: str) -> bool:
    return path in ("/api", "/execute") or (path.startswith("/api/") and not is_piston(path))


def max_body_bytes(path: str) -> int:
    if is_piston(path):
        return PISTON_MAX_BODY_BYTES
    return NATIVE_MAX_BODY_BYTES if is_native(path) else JUDGE0_MAX_BODY_BYTES
