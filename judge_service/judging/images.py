"""Which image references a pair may carry, and how they reach a provider.

The server never fetches an image: an https URL is passed through to the
judge's provider, and a `data:` URI carries the bytes itself. Fetching
caller-supplied URLs from the server would let anyone make it reach any
address (server-side request forgery).
"""

import base64
import re
from typing import Any

MAX_IMAGES = 8
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
DATA_URI = re.compile(r"^data:(image/[a-z]+);base64,([A-Za-z0-9+/=\s]*)$")
MAX_HTTPS_URL = 4096
_BASE64_CHAR = r"[A-Za-z0-9+/]\s*"
# The two forms as the OpenAPI document states them (`web/openapi.py`), so a client or a
# fuzzer knows exactly what is accepted. Base64 may be wrapped (whitespace anywhere) and is
# padded to whole groups of four. `check_image_url` applies the same rules faster: this
# pattern takes seconds on a 7 MB image.
HTTPS_URL_PATTERN = rf"^https://[!-~]{{0,{MAX_HTTPS_URL - len('https://')}}}$"
DATA_URI_PATTERN = (
    rf"^data:image/({'|'.join(t.removeprefix('image/') for t in MEDIA_TYPES)});base64,\s*"
    rf"(?:(?:{_BASE64_CHAR}){{4}})*"
    rf"(?:(?:{_BASE64_CHAR}){{2}}=\s*=\s*|(?:{_BASE64_CHAR}){{3}}=\s*)?$"
)
_HTTPS_URL = re.compile(HTTPS_URL_PATTERN)
_WHITESPACE = re.compile(r"\s+")
_PADDED_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def check_image_url(url: str) -> str:
    """The URL if it is an https URL (printable ASCII, as RFC 3986 has it) or a base64 image
    data URI within the size limit."""
    if url.startswith("https://"):
        if not _HTTPS_URL.fullmatch(url):
            raise ValueError(
                f"https image URLs must be at most {MAX_HTTPS_URL} characters of printable "
                "ASCII: no spaces or control characters (percent-encode the rest)"
            )
        return url
    match = DATA_URI.match(url)
    if not match:
        raise ValueError("must be an https:// URL or a data:image/...;base64, URI")
    if match[1] not in MEDIA_TYPES:
        raise ValueError(f"image type {match[1]} not accepted; use one of {MEDIA_TYPES}")
    data = _WHITESPACE.sub("", match[2])
    if len(data) % 4 or not _PADDED_BASE64.fullmatch(data):
        raise ValueError("data URI is not valid base64")
    size = len(base64.b64decode(data))
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
