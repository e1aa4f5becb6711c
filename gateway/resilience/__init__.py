"""Protection of upstreams and of the gateway: circuit breakers and pacing."""
