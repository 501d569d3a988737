"""Which sandbox image recipes `make setup` builds, one per line on stdout: the languages of
$LANGUAGES (comma-separated names or aliases) when set, else the config's supportedLanguages.
A language whose image the config names otherwise is the operator's to build.

Usage: python -m runakode.image_recipes [CONFIG]
"""

import os
import sys
from pathlib import Path

from runakode.config import default_image, load_settings
from runakode.errors import ConfigError
from runakode.languages import resolve


def recipes(requested: str | None, config: Path | None) -> list[str]:
    """ConfigError for an unknown language or a config that does not load."""
    settings = load_settings(config)
    if requested is None or not requested.strip():
        names = settings.supported_languages
    else:
        names = []
        for word in requested.replace(",", " ").split():
            language = resolve(word)
            if language is None:
                raise ConfigError(f"LANGUAGES: unknown language {word!r}")
            names.append(language.name)
    return [
        name
        for name in dict.fromkeys(names)
        if settings.sandbox_images[name] == default_image(name)
    ]


def main() -> None:
    config = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    try:
        print("\n".join(recipes(os.environ.get("LANGUAGES"), config)))
    except ConfigError as exc:
        sys.exit(f"image_recipes: {exc}")


if __name__ == "__main__":
    main()
