"""Pitch (f0) estimation (being written)."""

__all__: list[str] = []
