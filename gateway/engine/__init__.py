"""The shared upstream engine: one HTTP client, pacing, circuit breakers, retries, polling, deadlines, downloads."""
