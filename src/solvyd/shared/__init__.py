"""Small helpers both the server and the agent use; imports nothing else of Solvyd."""
