"""The shared upstream engine: one HTTP client, retries, polling, deadlines, downloads."""
