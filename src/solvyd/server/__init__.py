"""The API server: keeps jobs, builds, workers and logs; hands builds to agents."""
