"""Talking Avatar Studio's core: prepare inputs, submit to Kling Avatar, follow, store."""

__version__ = "0.1.0"
