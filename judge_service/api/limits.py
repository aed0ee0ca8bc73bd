"""What a request body may be before any model sees it.

The size limit counts bytes as they arrive, so neither a missing nor a false
Content-Length lets a larger body into memory.
"""

from collections import deque

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimitMiddleware:
    """413 for a request body over `max_bytes`; a body within it is passed on unchanged.

    The body is read before the app runs, as FastAPI reads it before calling a route.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdecimal() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received: deque[Message] = deque()
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nobody to answer
                return
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            received.append(message)
            more = message.get("more_body", False)

        async def replay() -> Message:
            return received.popleft() if received else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"request body over the limit of {self.max_bytes} bytes; split the request"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
