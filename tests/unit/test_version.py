"""The package version has one source (``airflow_wecube.__version__``); metadata and provider info follow it."""

from importlib.metadata import version

import airflow_wecube
from airflow_wecube.get_provider_info import get_provider_info


def test_distribution_and_provider_info_use_the_package_version():
    assert version("airflow-provider-wecube") == airflow_wecube.__version__
    assert get_provider_info()["versions"] == [airflow_wecube.__version__]
