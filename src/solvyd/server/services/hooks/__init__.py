"""Webhooks in: a forge's delivery verified against the secrets of the jobs of its repository,
filtered by each job's trigger events, branches and paths, and turned into queued builds; the
delivery log that keeps every request for `webhook_retention_days`; replays."""
