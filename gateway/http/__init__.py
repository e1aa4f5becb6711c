"""The HTTP edge: the ASGI middleware, errors in OpenAI's shape, who is calling, multipart, SSE, the server."""
