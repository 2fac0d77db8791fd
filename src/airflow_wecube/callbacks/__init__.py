"""Asynchronous plugin calls: callback tokens and URLs, per-entity answers, and the store where calls and callbacks meet."""
