"""An adapter for any OpenAI-compatible upstream: OpenAI, DashScope's compatible mode, a self-hosted
server, or another image-gateway."""
