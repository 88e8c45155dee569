"""Commit statuses: each change of a build's state reported on its commit at the forge."""
