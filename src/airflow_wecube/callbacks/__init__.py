"""Asynchronous plugin calls: callback tokens and URLs, per-entity answers, and their store."""
