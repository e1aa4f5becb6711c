"""What a request means: request specs, routing to targets, the image service with fallback, async jobs."""
