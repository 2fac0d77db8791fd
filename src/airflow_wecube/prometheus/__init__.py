"""Pure helpers for the Prometheus integration (no Airflow imports).

``errors``: the exceptions; ``settings``: what a ``prometheus`` connection says; ``transport``: the
HTTP session and async GET, bounded by a deadline and a size cap; ``results``: reading answers
(instant results, range bodies, frames, error messages); ``retry``: retrying a write's Prometheus
step while it restarts; ``timeutil``: durations and timestamps in Prometheus's milliseconds and
text (parsed by :mod:`airflow_wecube.util.durations`); ``ranges``: splitting long range queries and
fetching the chunks; ``conditions``: the sensor's condition language; ``file_sd``: file_sd target
files; ``rules``: rule group files checked with promtool.
"""
