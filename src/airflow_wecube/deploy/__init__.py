"""Settings of the deployment layouts: the CeleryExecutor's Celery options, a host name per component."""
