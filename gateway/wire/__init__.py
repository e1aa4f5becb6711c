"""Every client-facing wire shape, as msgspec Structs mirroring the OpenAI SDK's types."""
