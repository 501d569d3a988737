"""Which served languages can run now: a worker announces the languages whose sandbox image it
has, so one whose image is missing is listed as unavailable and refused with a clear error."""

from collections.abc import Awaitable, Callable, Mapping

from runakode.config import Settings

# What the API asks the broker: the language versions the workers announced last.
LanguageVersions = Callable[[], Awaitable[dict[str, str | None]]]


def unavailable_languages(settings: Settings, versions: Mapping[str, str | None]) -> frozenset[str]:
    """The served languages the workers' last announcement left out (none before any)."""
    if not versions:
        return frozenset()
    return frozenset(name for name in settings.supported_languages if name not in versions)


async def unavailable_now(
    settings: Settings, language_versions: LanguageVersions
) -> frozenset[str]:
    """The served languages no worker can run at the moment (asks the broker)."""
    return unavailable_languages(settings, await language_versions())


def unavailable_message(name: str, settings: Settings) -> str:
    image = settings.sandbox_images[name]
    return (
        f"language {name!r} is unavailable on this service: its sandbox image {image} is not "
        f"built (make setup LANGUAGES={name})"
    )
