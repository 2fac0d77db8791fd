"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from airflow_wecube import __version__


def get_provider_info() -> dict:
    # "package-name" must equal the distribution name exactly, or the airflow CLI breaks.
    return {
        "package-name": "airflow-provider-wecube",
        "name": "WeCube",
        "description": "WeCube-style plugin registry and calls, approvals, Prometheus monitoring and capacity models.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "WeCube",
                "external-doc-url": "https://github.com/WeBankPartners/wecube-platform",
                "tags": ["software"],
            },
            {"integration-name": "Prometheus", "external-doc-url": "https://prometheus.io/", "tags": ["software"]},
            {
                "integration-name": "Alertmanager",
                "external-doc-url": "https://prometheus.io/docs/alerting/latest/alertmanager/",
                "tags": ["software"],
            },
        ],
        "hooks": [
            {"integration-name": "WeCube", "python-modules": ["airflow_wecube.hooks.plugin"]},
            {"integration-name": "Prometheus", "python-modules": ["airflow_wecube.hooks.prometheus"]},
            {"integration-name": "Alertmanager", "python-modules": ["airflow_wecube.hooks.alertmanager"]},
        ],
        "operators": [
            {"integration-name": "WeCube", "python-modules": ["airflow_wecube.operators.plugin"]},
            {"integration-name": "Prometheus", "python-modules": ["airflow_wecube.operators.prometheus"]},
            {"integration-name": "Prometheus", "python-modules": ["airflow_wecube.operators.capacity"]},
        ],
        "triggers": [
            {"integration-name": "Prometheus", "python-modules": ["airflow_wecube.triggers.prometheus"]},
        ],
        "sensors": [
            {"integration-name": "WeCube", "python-modules": ["airflow_wecube.sensors.approval"]},
            {"integration-name": "Prometheus", "python-modules": ["airflow_wecube.sensors.prometheus"]},
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_wecube.hooks.plugin.WeCubePluginHook",
                "hook-name": "WeCube plugin",
                "connection-type": "wecube",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login"],
                    "relabeling": {"host": "Plugin base URL", "password": "Token"},
                    "placeholders": {
                        "host": "http://127.0.0.1:19090",
                        "password": "bearer token sent as Authorization",
                    },
                },
                "conn-fields": {
                    "operator": {
                        "label": "Operator",
                        "description": "Name sent as 'operator' in every plugin request.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "timeout": {
                        "label": "Timeout (s)",
                        "description": "Seconds for connecting and for each read of a plugin call (default 60).",
                        "schema": {"type": ["number", "null"]},
                    },
                    "deadline": {
                        "label": "Deadline (s)",
                        "description": "Seconds for a whole plugin call: connect, send, full answer, retries "
                        "(default [wecube] http_deadline, 300).",
                        "schema": {"type": ["number", "null"]},
                    },
                    "max_response_bytes": {
                        "label": "Largest answer (bytes)",
                        "description": (
                            "Answers larger than this fail (default [wecube] http_max_response_bytes, 64 MiB)."
                        ),
                        "schema": {"type": ["integer", "null"]},
                    },
                },
            },
            {
                "hook-class-name": "airflow_wecube.hooks.prometheus.PrometheusHook",
                "hook-name": "Prometheus",
                "connection-type": "prometheus",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema"],
                    "relabeling": {
                        "host": "Prometheus URL",
                        "login": "Basic auth user",
                        "password": "Password or bearer token",
                    },
                    "placeholders": {"host": "http://127.0.0.1:9090"},
                },
                "conn-fields": {
                    "file_sd_dir": {
                        "label": "file_sd folder",
                        "description": "Folder of file_sd JSON target files Prometheus watches.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "rules_dir": {
                        "label": "Rules folder",
                        "description": "Folder of rule files Prometheus loads.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "retry_limit": {
                        "label": "Retries while Prometheus is down",
                        "description": (
                            "Retries of a target confirm or rule reload while Prometheus is unreachable "
                            "or answers 502/503/504 (default 4)."
                        ),
                        "schema": {"type": ["integer", "null"], "minimum": 0, "maximum": 20},
                    },
                    "retry_delay": {
                        "label": "First retry delay (seconds)",
                        "description": "Seconds before the first retry, doubling each time (default 1).",
                        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": 60},
                    },
                    "bearer_token": {
                        "label": "Use password as bearer token",
                        "description": "Send the password as 'Authorization: Bearer' instead of basic auth.",
                        "schema": {"type": ["boolean", "null"]},
                    },
                    "verify": {
                        "label": "Verify TLS",
                        "description": "Verify the server certificate (default true).",
                        "schema": {"type": ["boolean", "null"]},
                    },
                    "deadline": {
                        "label": "Deadline (s)",
                        "description": "Seconds for a whole request: connect, send, full answer "
                        "(default [wecube] http_deadline, 300).",
                        "schema": {"type": ["number", "null"]},
                    },
                    "max_response_bytes": {
                        "label": "Largest answer (bytes)",
                        "description": (
                            "Answers larger than this fail (default [wecube] http_max_response_bytes, 64 MiB)."
                        ),
                        "schema": {"type": ["integer", "null"]},
                    },
                },
            },
            {
                "hook-class-name": "airflow_wecube.hooks.alertmanager.AlertmanagerHook",
                "hook-name": "Alertmanager",
                "connection-type": "alertmanager",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema"],
                    "relabeling": {
                        "host": "Alertmanager URL",
                        "login": "Basic auth user (optional)",
                        "password": "Webhook secret",
                    },
                    "placeholders": {
                        "host": "http://127.0.0.1:9093",
                        "password": "bearer token Alertmanager sends to POST /wecube/alerts",
                    },
                },
                "conn-fields": {
                    "api_password": {
                        "label": "Basic auth password (optional)",
                        "description": "For an Alertmanager behind --web.config.file basic auth (with the login).",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "timeout": {
                        "label": "Timeout (s)",
                        "description": "Seconds for connecting and for each read (default 30).",
                        "schema": {"type": ["number", "null"]},
                    },
                    "deadline": {
                        "label": "Deadline (s)",
                        "description": "Seconds for a whole request: connect, send, full answer "
                        "(default [wecube] http_deadline, 300).",
                        "schema": {"type": ["number", "null"]},
                    },
                    "max_response_bytes": {
                        "label": "Largest answer (bytes)",
                        "description": (
                            "Answers larger than this fail (default [wecube] http_max_response_bytes, 64 MiB)."
                        ),
                        "schema": {"type": ["integer", "null"]},
                    },
                    "verify": {
                        "label": "Verify TLS",
                        "description": "Verify the server certificate (default true), or a CA bundle path.",
                        "schema": {"type": ["boolean", "null"]},
                    },
                },
            },
        ],
        "config": {
            "wecube": {
                "description": "airflow-provider-wecube settings.",
                "options": {
                    "registry_path": {
                        "description": (
                            "Folder of registered plugin manifests. Default: wecube_plugins/ beside the DAGs folder."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/dags/wecube_plugins",
                        "default": None,
                    },
                    "processes_path": {
                        "description": (
                            "Folder of imported WeCube processes (one JSON file per version)."
                            " Default: wecube_processes/ in the DAGs folder."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/dags/wecube_processes",
                        "default": None,
                    },
                    "file_sd_dir": {
                        "description": "Default folder for Prometheus file_sd target files.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": None,
                        "default": None,
                    },
                    "rules_dir": {
                        "description": "Default folder for Prometheus rule files.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": None,
                        "default": None,
                    },
                    "http_deadline": {
                        "description": "Seconds a plugin call or a Prometheus request may take in all (connect, "
                        "send, the full answer; a plugin call's retries included), so a server that trickles "
                        "bytes cannot hold a task. Connection extra 'deadline' wins.",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "600",
                        "default": "300",
                    },
                    "http_max_response_bytes": {
                        "description": "Largest answer accepted from a plugin or Prometheus (bytes, after "
                        "decompression). Connection extra 'max_response_bytes' wins.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "268435456",
                        "default": "67108864",
                    },
                    "smtp_conn_id": {
                        "description": "SMTP connection that e-mails a capacity model's owners when it drifts "
                        "(unless the DAG or operator sets explicit notifiers).",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "smtp_default",
                        "default": "smtp_default",
                    },
                    "lock_dir": {
                        "description": "Folder of the lock files that serialise edits of Prometheus target and "
                        "rule files (kept out of the folders Prometheus reads). Default: .wecube-locks beside "
                        "each folder. Every worker must see the same folder.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/wecube/locks",
                        "default": None,
                    },
                    "capacity_store": {
                        "description": "Where capacity model fits are stored (local path or object storage URL).",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "s3://bucket/capacity",
                        "default": None,
                    },
                    "resume_settle_seconds": {
                        "description": "Seconds after a task parks (defers, awaits input) before anything of ours "
                        "resumes it: an answer to its HITL request is held, triggers hold their event. Works "
                        "around an Airflow 3.3 race that fails tasks resumed sooner (docs/approvals.md).",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "10",
                        "default": "10",
                    },
                },
            }
        },
    }
