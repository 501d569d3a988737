"""Which sandbox images a worker has: a missing one makes its languages unavailable, never
stops the worker."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger(__name__)

# Image lookups at once when a worker starts (one per language).
LOOKUPS_AT_ONCE = 8


async def present_images(
    images: Iterable[str], exists: Callable[[str], Awaitable[bool]]
) -> set[str]:
    """Which of the images exist, looked up a few at a time; logs the missing ones."""
    images = sorted(set(images))
    limit = asyncio.Semaphore(LOOKUPS_AT_ONCE)

    async def check(image: str) -> str | None:
        async with limit:
            return image if await exists(image) else None

    present = {image for image in await asyncio.gather(*map(check, images)) if image}
    missing = [image for image in images if image not in present]
    if missing:
        log.warning(
            "sandbox images missing: their languages are unavailable (build them with "
            "`make setup LANGUAGES=...`)",
            extra={"images": missing},
        )
    return present
