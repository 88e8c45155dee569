"""Thin Typer entry points: parse, wire, no logic."""
