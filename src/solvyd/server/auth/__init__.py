"""Credentials: password hashing, user access tokens (JWT), server keys."""
