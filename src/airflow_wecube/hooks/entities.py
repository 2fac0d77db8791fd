"""Which Airflow connection reaches a package: ``wecube_<pkg>`` when it exists, else ``wecube_default``.

A WeCube gateway routes every package, so one connection (``wecube_default``) is enough; a package
served elsewhere gets its own. The same rule serves the entity API and the plugin calls of a
process that uses several packages.
"""

from __future__ import annotations

from airflow_wecube.datamodel.client import Endpoint, EntityApi

DEFAULT_CONN_ID = "wecube_default"
PREFIX = "wecube_"


def conn_id_for_package(package: str, default: str = DEFAULT_CONN_ID) -> str:
    """``wecube_<package>`` when such a connection exists, else ``default``."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    own = f"{PREFIX}{package}"
    try:
        Connection.get(own)
    except AirflowNotFoundException:
        return default
    return own


def entity_api(hook_class: type, default: str = DEFAULT_CONN_ID) -> EntityApi:
    """The entity API of every package, each through its connection (base URL and bearer token).

    :param hook_class: the hook that reads a connection (``WeCubePluginHook``: passed in, so that this module
        and the hook, which calls :mod:`~airflow_wecube.hooks.entity_call`, do not import each other)
    """

    def endpoint(package: str) -> Endpoint:
        hook = hook_class(conn_id_for_package(package, default))
        session = hook.get_conn()
        timeout = float(hook._connection().extra_dejson.get("timeout", 60))
        return Endpoint(hook.base_url.rstrip("/"), session, timeout)

    return EntityApi(endpoint)


__all__ = ["DEFAULT_CONN_ID", "conn_id_for_package", "entity_api"]
