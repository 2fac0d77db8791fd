"""A host name per Airflow component, for ``[core] hostname_callable``.

``make cluster`` runs two Celery workers on one machine: both would report the machine's name, so a
task instance's ``hostname`` could not say which worker ran it. Each worker sets
``WECUBE_WORKER_HOSTNAME`` (its Celery host name); everything else gets the machine's name, as with
Airflow's default (``airflow.utils.net.getfqdn``).
"""

from __future__ import annotations

import os
import socket

HOSTNAME_ENV = "WECUBE_WORKER_HOSTNAME"


def from_env() -> str:
    """``$WECUBE_WORKER_HOSTNAME`` when set, else the fully qualified name of this machine."""
    return os.environ.get(HOSTNAME_ENV, "").strip() or socket.getfqdn()
