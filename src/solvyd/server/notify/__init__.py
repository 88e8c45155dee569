"""Telling people about builds: the notifier contract (base.py), the built-in notifiers, and
the rows that carry each notification from the build's transaction to its receiver."""
