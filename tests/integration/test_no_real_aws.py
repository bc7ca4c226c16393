"""No AWS client of the tests or the demo can reach a host other than loopback.

The environment is made hostile (endpoint, profile, region and proxy variables pointing at AWS
or a proxy), then every provider hook the DAGs use runs through the test connection. Two guards
are active: ``focus_emulator.guard``'s botocore handler and its socket-level guard. Every socket
connection must go to the emulator on 127.0.0.1, and a client without ``endpoint_url`` must be
stopped before it sends anything.

Nothing here can leave the machine even if both guards were broken: each blocked client also
carries a last ``before-send`` handler that raises instead of sending, the socket check uses a
UDP ``connect`` (which sends no packet), and the hostnames it looks up are numeric.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from focus_emulator import guard

pytestmark = pytest.mark.integration

HOSTILE_ENVIRONMENT = {
    "AWS_ENDPOINT_URL": "https://s3.amazonaws.com",
    "AWS_ENDPOINT_URL_ATHENA": "https://athena.eu-west-1.amazonaws.com",
    "AWS_PROFILE": "hostile",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "HTTP_PROXY": "http://proxy.invalid:3128",
    "HTTPS_PROXY": "http://proxy.invalid:3128",
    "ALL_PROXY": "http://proxy.invalid:3128",
    "http_proxy": "http://proxy.invalid:3128",
    "https_proxy": "http://proxy.invalid:3128",
}


class LeakedRequestError(AssertionError):
    """Raised by the last before-send handler: the guard let a request through."""


def stop_unsent(request: Any, **_: Any) -> None:
    raise LeakedRequestError(f"The loopback guard let a request to {request.url} through")


@pytest.fixture
def hostile(aws, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[list[tuple[Any, ...]]]:
    """Set a hostile AWS environment, install the guards as at start-up, yield socket connections."""
    config_file = tmp_path / "config"
    config_file.write_text(
        "[profile hostile]\nregion = eu-west-1\nendpoint_url = https://sts.amazonaws.com\n"
    )
    credentials_file = tmp_path / "credentials"
    credentials_file.write_text("[hostile]\naws_access_key_id = AKIDHOSTILE\naws_secret_access_key = x\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_file))
    for name, value in HOSTILE_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    guard.install()
    with guard.block_non_loopback_sockets() as connections:
        yield connections


def unsent_client(service: str, **kwargs: Any) -> Any:
    # A new session reads the hostile configuration; boto3's default session may predate it.
    session = boto3.session.Session()
    client = session.client(service, aws_access_key_id="testing", aws_secret_access_key="testing", **kwargs)
    client.meta.events.register("before-send", stop_unsent)
    return client


def assert_loopback_calls(aws, connections: list[tuple[Any, ...]], call: Any) -> None:
    """Run ``call`` and check it opened at least one connection, each to the emulator."""
    before = len(connections)
    call()
    opened = connections[before:]
    assert opened, "the call opened no connection"
    port = int(aws.endpoint_url.rsplit(":", 1)[1])
    for address in opened:
        assert address[0] == "127.0.0.1"
        assert address[1] == port


def test_socket_guard_blocks_before_send(hostile) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(guard.NonLoopbackRequestError):
            udp.connect(("192.0.2.1", 9))
        with pytest.raises(guard.NonLoopbackRequestError):
            udp.connect_ex(("192.0.2.1", 9))
    finally:
        udp.close()
    with pytest.raises(guard.NonLoopbackRequestError):
        socket.getaddrinfo("192.0.2.1", 443)
    assert socket.getaddrinfo("127.0.0.1", 443)


def test_s3_hook_uses_loopback(aws, hostile) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id="aws_default", region_name=aws.config.region_name)
    assert_loopback_calls(
        aws, hostile, lambda: hook.load_bytes(b"x", "probe", aws.config.bucket, replace=True)
    )
    assert_loopback_calls(aws, hostile, lambda: hook.list_keys(bucket_name=aws.config.bucket))


def test_glue_crawler_hook_uses_loopback(aws, hostile) -> None:
    from airflow.providers.amazon.aws.hooks.glue_crawler import GlueCrawlerHook

    hook = GlueCrawlerHook(aws_conn_id="aws_default")
    assert_loopback_calls(aws, hostile, lambda: hook.get_crawler(aws.config.crawler_name))


def test_athena_hook_uses_loopback(aws, hostile) -> None:
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    hook = AthenaHook(aws_conn_id="aws_default", region_name=aws.config.region_name, log_query=False)

    def run() -> None:
        query_id = hook.run_query(
            "SELECT 1",
            query_context={"Database": aws.config.database},
            result_configuration={"OutputLocation": aws.config.athena_output},
            workgroup=aws.config.workgroup,
        )
        assert hook.poll_query_status(query_id, sleep_time=0) == "SUCCEEDED"

    assert_loopback_calls(aws, hostile, run)


def test_sns_hook_uses_loopback(aws, hostile) -> None:
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    hook = SnsHook(aws_conn_id="aws_default", region_name=aws.config.region_name)
    assert_loopback_calls(aws, hostile, lambda: hook.publish_to_target(aws.resources["topic_arn"], "probe"))


@pytest.mark.parametrize("client_type", ["cloudwatch", "sts"])
def test_base_hook_clients_use_loopback(aws, hostile, client_type: str) -> None:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id="aws_default", client_type=client_type)
    endpoint = hook.conn_config.get_service_endpoint_url(client_type)
    client = hook.get_session(region_name=aws.config.region_name).client(client_type, endpoint_url=endpoint)
    if client_type == "sts":
        assert_loopback_calls(aws, hostile, client.get_caller_identity)
    else:
        assert_loopback_calls(aws, hostile, client.list_metrics)


def test_pyathena_sqlalchemy_uses_loopback(aws, hostile) -> None:
    import sqlalchemy

    from focus_pipeline.validation import athena_connect_args, athena_sqlalchemy_url, resolve_aws_access

    access = resolve_aws_access(aws.config)
    assert access.endpoint_url == aws.endpoint_url
    engine = sqlalchemy.create_engine(
        athena_sqlalchemy_url(aws.config, access, poll_interval=0.05),
        connect_args=athena_connect_args(access),
    )

    def run() -> None:
        with engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("SELECT 1")).scalar() == 1

    assert_loopback_calls(aws, hostile, run)


def test_client_without_endpoint_blocked(hostile) -> None:
    s3 = unsent_client("s3")
    assert s3.meta.endpoint_url == "https://s3.amazonaws.com"
    with pytest.raises(guard.NonLoopbackRequestError, match="Blocked a request to s3.amazonaws.com"):
        s3.list_buckets()
    athena = unsent_client("athena")
    with pytest.raises(
        guard.NonLoopbackRequestError, match="Blocked a request to athena.eu-west-1.amazonaws.com"
    ):
        athena.list_work_groups()


def test_profile_endpoint_blocked(hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    session = boto3.session.Session(profile_name="hostile")
    sts = session.client("sts")
    sts.meta.events.register("before-send", stop_unsent)
    assert sts.meta.endpoint_url == "https://sts.amazonaws.com"
    with pytest.raises(guard.NonLoopbackRequestError, match="Blocked a request to sts.amazonaws.com"):
        sts.get_caller_identity()


def test_default_endpoint_blocked(hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    glue = unsent_client("glue", region_name="eu-west-1")
    assert glue.meta.endpoint_url == "https://glue.eu-west-1.amazonaws.com"
    with pytest.raises(
        guard.NonLoopbackRequestError, match="Blocked a request to glue.eu-west-1.amazonaws.com"
    ):
        glue.get_databases()


def test_profile_session_blocked(hostile) -> None:
    session = boto3.session.Session(profile_name="hostile")
    sts = session.client("sts")
    sts.meta.events.register("before-send", stop_unsent)
    # AWS_ENDPOINT_URL takes precedence over the profile's endpoint_url.
    assert sts.meta.endpoint_url == "https://s3.amazonaws.com"
    with pytest.raises(guard.NonLoopbackRequestError, match="Blocked a request to s3.amazonaws.com"):
        sts.get_caller_identity()


def test_proxy_for_loopback_blocked(aws, hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    s3 = unsent_client("s3", endpoint_url=aws.endpoint_url, region_name=aws.config.region_name)
    with pytest.raises(guard.NonLoopbackRequestError, match="through the proxy proxy.invalid"):
        s3.list_buckets()
