"""Solvyd: a self-hosted CI/CD platform (API server, worker agents, pipeline engine)."""

__version__ = "0.1.0"
