"""Which image references a pair may carry, and how they reach a provider.

The server never fetches an image: an https URL is passed through to the
judge's provider, and a `data:` URI carries the bytes itself. Fetching
caller-supplied URLs from the server would let anyone make it reach any
address (server-side request forgery).
"""

import base64
import binascii
import re
from typing import Any

MAX_IMAGES = 8
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
DATA_URI = re.compile(r"^data:(image/[a-z]+);base64,([A-Za-z0-9+/=\s]*)$")


def check_image_url(url: str) -> str:
    """The URL if it is an https URL or a base64 image data URI within the size limit."""
    if url.startswith("https://"):
        if len(url) > 4096 or " " in url or not url.isprintable():
            raise ValueError(
                "https image URLs must be at most 4096 characters, without spaces or control "
                "characters"
            )
        return url
    match = DATA_URI.match(url)
    if not match:
        raise ValueError("must be an https:// URL or a data:image/...;base64, URI")
    if match[1] not in MEDIA_TYPES:
        raise ValueError(f"image type {match[1]} not accepted; use one of {MEDIA_TYPES}")
    try:
        size = len(base64.b64decode(match[2], validate=False))
    except binascii.Error:
        raise ValueError("data URI is not valid base64") from None
    if size > MAX_IMAGE_BYTES:
        raise ValueError(f"image is {size} bytes; the limit is {MAX_IMAGE_BYTES}")
    return url


def anthropic_image_block(url: str) -> dict[str, Any]:
    match = DATA_URI.match(url)
    if match:
        source = {"type": "base64", "media_type": match[1], "data": match[2]}
    else:
        source = {"type": "url", "url": url}
    return {"type": "image", "source": source}
