"""Provider kinds defined outside gateway/ and providers/, loaded through ``provider_modules``."""
