"""The CI engine: the pipeline language, planning a build, and running it through an executor.

No HTTP and no database here; ``solvyd.shared`` and ``solvyd.protocol`` are the only parts of
Solvyd it imports. ``config`` and ``plan`` are safe for the server to use; ``runtime`` and
``executors`` are the agent's.
"""
