"""What a browser may do with our responses: the same hardening headers on every one of them.

The dashboard shares its origin with the API and a signed-in cookie, so its pages load
scripts, styles and frames from this server only (no inline script, no inline style), never
sit in another site's frame, and send no Referer. Images come from here, `data:` URIs, or
the hosts an operator lists in `JUDGE_IMAGE_HOSTS`. A pure ASGI middleware, so streamed
responses (exports) pass through untouched.
"""

from collections.abc import Iterable

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REDOC_PATH = "/redoc"
# ReDoc's page alone adds what its bundle does at run time, and nothing else:
# - styled-components adds empty <style> elements and fills them through the CSS object
#   model, which CSP does not govern: the hash of "" admits the empty elements only;
# - its scrollbar's fixed stylesheet, admitted by its hash (an upgraded bundle that changes
#   it fails the browser test, tests/dashboard/test_browser.py, with a CSP violation);
# - its search index runs in a Web Worker made from a blob: URL.
REDOC_STYLES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' "
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='"
)


def content_security_policy(image_hosts: Iterable[str], *, redoc: bool = False) -> str:
    images = " ".join(["'self'", "data:", *(f"https://{host}" for host in image_hosts)])
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        f"style-src 'self' {REDOC_STYLES}" if redoc else "style-src 'self'",
        f"img-src {images}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    if redoc:
        directives.append("worker-src 'self' blob:")
    return "; ".join(directives)


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """As ASGI carries them, encoded once: a response only has them appended."""
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


class SecurityHeadersMiddleware:
    """Sets the headers on every HTTP response, errors and 500s included."""

    def __init__(self, app: ASGIApp, image_hosts: Iterable[str]) -> None:
        self.app = app
        hosts = list(image_hosts)
        common = {
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        self.headers = _raw({"Content-Security-Policy": content_security_policy(hosts), **common})
        self.redoc_headers = _raw(
            {"Content-Security-Policy": content_security_policy(hosts, redoc=True), **common}
        )
        self.names = frozenset(name for name, _ in self.headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = self.redoc_headers if scope["path"] == REDOC_PATH else self.headers
        names = self.names
        started = False

        async def send_hardened(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # Ours replace any the app set; the rest are kept as they are.
                kept = [item for item in message.get("headers", []) if item[0].lower() not in names]
                message["headers"] = kept + headers
            await send(message)

        try:
            await self.app(scope, receive, send_hardened)
        except Exception:
            # Starlette's own 500 is sent outside every middleware: send ours, hardened, and
            # let the exception go on to be logged.
            if not started:
                error = PlainTextResponse("Internal Server Error", status_code=500)
                await error(scope, receive, send_hardened)
            raise
