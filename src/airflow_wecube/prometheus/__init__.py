"""Pure helpers for the Prometheus integration (no Airflow imports).

``errors``: the exceptions; ``timeutil``: durations and timestamps in Prometheus's milliseconds and
text (parsed by :mod:`airflow_wecube.timeutil`); ``ranges``: splitting long range queries;
``conditions``: the sensor's condition language; ``file_sd``: file_sd target files; ``rules``: rule
group files checked with promtool.
"""
