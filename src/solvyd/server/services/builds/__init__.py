"""Build use cases, one verb per module: trigger, claim, update, cancel, logs, reap, read."""
