"""Small helpers with no WeCube concept of their own: durations, atomic files, bounded HTTP, the Airflow REST client."""
