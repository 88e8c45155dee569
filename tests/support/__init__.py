"""Test helpers: databases, real server and agent processes."""
