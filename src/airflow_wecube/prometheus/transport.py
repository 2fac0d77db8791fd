"""HTTP to Prometheus: the shared ``requests`` session and the async GET of triggers.

Pure: no Airflow import. Both bound the whole request by the connection's ``deadline`` and cap the
answer at ``max_response_bytes`` (:mod:`airflow_wecube.util.http_limits`); a missing answer is
:class:`PrometheusUnreachableError`, and the caller reads the status and body of any answer.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow_wecube.prometheus import results
from airflow_wecube.prometheus.errors import PrometheusUnreachableError

if TYPE_CHECKING:
    import requests

    from airflow_wecube.prometheus.settings import PrometheusSettings


def session_retry():
    """Few quick retries on a proxy hiccup or a Prometheus still starting (503); no long backoff."""
    from urllib3.util.retry import Retry

    return Retry(
        total=2,
        connect=1,
        backoff_factor=0.2,
        status_forcelist=[502, 503, 504],
        allowed_methods=None,
        raise_on_status=False,
    )


def make_session(settings: PrometheusSettings) -> requests.Session:
    """A session with the connection's auth, headers and TLS, and the deadline / size cap adapter."""
    import requests

    from airflow_wecube.util.http_limits import LimitedAdapter

    session = requests.Session()
    session.verify = settings.verify
    session.headers.update(settings.headers)
    if settings.auth:
        session.auth = settings.auth
    # the deadline bounds connect + send + full body (a trickling server cannot hold the task)
    adapter = LimitedAdapter(
        max_retries=session_retry(), deadline=settings.deadline, max_bytes=settings.max_response_bytes
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def request(
    session: requests.Session, settings: PrometheusSettings, method: str, path: str, **kwargs: Any
) -> requests.Response:
    """``method`` ``<url><path>`` on ``session``: the answer, whatever its status."""
    import requests

    from airflow_wecube.util.http_limits import DeadlineExceeded, ResponseTooLarge

    # verify per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify
    kwargs.setdefault("verify", settings.verify)
    try:
        return session.request(method, f"{settings.url}{path}", timeout=settings.timeout, **kwargs)
    except (DeadlineExceeded, ResponseTooLarge) as exc:
        raise results.limit_error(exc) from None
    except requests.exceptions.RequestException as exc:
        raise PrometheusUnreachableError(f"Prometheus at {settings.url} is unreachable: {exc}") from None


async def aget(settings: PrometheusSettings, path: str, params: dict[str, str]) -> tuple[int, bytes]:
    """Async GET ``<url><path>`` (httpx): ``(status, decoded body)``, bounded like :func:`request`."""
    import httpx

    from airflow_wecube.util.http_limits import DeadlineExceeded, ResponseTooLarge

    url = f"{settings.url}{path}"

    async def fetch() -> tuple[int, bytes]:
        async with (
            httpx.AsyncClient(
                verify=settings.verify, headers=settings.headers, auth=settings.auth, timeout=settings.timeout
            ) as client,
            client.stream("GET", url, params=params) as response,
        ):
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > settings.max_response_bytes:
                    raise ResponseTooLarge(
                        f"the answer from {url} is larger than the "
                        f"{settings.max_response_bytes} bytes allowed (connection extra 'max_response_bytes')"
                    )
            return response.status_code, bytes(body)

    try:
        return await asyncio.wait_for(fetch(), settings.deadline)
    except ResponseTooLarge as exc:
        raise results.limit_error(exc) from None
    except asyncio.TimeoutError:
        raise results.limit_error(
            DeadlineExceeded(f"no complete answer from {url} within the {settings.deadline:g} s deadline")
        ) from None
    except httpx.HTTPError as exc:
        raise PrometheusUnreachableError(f"Prometheus at {settings.url} is unreachable: {exc!r}") from None
