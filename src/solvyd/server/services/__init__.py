"""Use cases. Each opens its own unit of work and fires wake-ups only after it commits."""
