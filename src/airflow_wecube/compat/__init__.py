"""Workarounds of Airflow bugs, each with the version or condition under which it can be removed."""
