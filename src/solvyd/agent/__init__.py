"""The worker agent: registers, heartbeats, claims builds, runs them, reports back."""
