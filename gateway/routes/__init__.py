"""Route handlers, one module per OpenAI resource: decode the request, call a service, encode the answer."""
