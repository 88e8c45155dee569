"""Deploy targets the server performs itself (it holds the cluster's credentials; the agents
that run hostile steps never do). Nothing here knows the database or the services."""
