"""Deployments to environments (docs/deployments.md).

A deployment is made by a deploy step (`create.py`), waits for a developer's approval when its
step or environment asks for one (`approvals.py`), then waits for its environment: one
deployment runs at a time per environment (`queue.py`). A script deploy then runs on the agent,
which reports how it ended; a `kubernetes` one is rolled out by a server process (`runner.py`).
A rollback (`rollback.py`) redeploys an earlier deployment's version as a new deployment.

States: awaiting_approval -> queued -> running -> succeeded | failed; a waiting one may end
cancelled (its build ended) or rejected (a developer said no). Finished is final.
"""
