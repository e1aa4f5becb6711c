"""What operators see: the request context, JSON logs, Prometheus metrics, provider key status."""
