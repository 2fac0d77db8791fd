"""One secret-name rule for connection extras, OpenAPI parameters and CMDB attributes."""

from __future__ import annotations

import pytest

from airflow_wecube.util.secrets import secret_name, words

SECRET = [
    "password",
    "db_passwd",
    "X-Api-Key",
    "apikey",
    "APIKey",
    "refresh_token",
    "clientSecret",
    "id-token",
    "accessToken",
    "token",
    "Authorization",
    "private_key",
    "aws_credentials",
    "bearer",
]
NOT_SECRET = ["token_count", "keyword", "passage", "passport", "bypass", "port", "tokens_used", "author"]


@pytest.mark.parametrize("name", SECRET)
def test_secret_names(name):
    assert secret_name(name)


@pytest.mark.parametrize("name", NOT_SECRET)
def test_names_that_only_look_alike(name):
    assert not secret_name(name)


def test_words():
    assert words("clientSecret") == "client_secret"
    assert words("X-Api-Key") == "x_api_key"
    assert words("my token") == "my_token"
