"""Asynchronous plugin calls: callback tokens and URLs, per-entity answers, the store where calls and answers meet."""
