"""Notifications: each start and end of a build told to the rules of its job that ask for it
(email, Slack, webhook, a plugin's type), as rows sent after commit."""
