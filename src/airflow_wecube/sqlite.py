"""SQLite connection settings for single-machine Airflow (``make demo``, the end-to-end tests).

``airflow standalone`` keeps its metadata in SQLite, where the scheduler, the DAG processor and
the API server all write. pysqlite gives up on a lock after 5 s, which the UI shows as an HTTP 500
"Database error" on a click; waiting longer is the better trade on one machine. Used as::

    AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS=airflow_wecube.sqlite.CONNECT_ARGS
"""

#: seconds a connection waits for a lock before "database is locked"
CONNECT_ARGS = {"timeout": 30}
