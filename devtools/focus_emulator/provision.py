"""Create in the emulator what Terraform creates in production, with the names of PipelineConfig.

python -m focus_emulator.provision --endpoint-url http://127.0.0.1:5000
python -m focus_emulator.provision --endpoint-url http://emulator:5000 --allow-host emulator
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import ClientError

from focus_emulator.guard import is_loopback_host
from focus_pipeline.config import PipelineConfig
from focus_pipeline.focus_schema import AWS_FOCUS_1_2_COLUMNS, CURRENT_PARTITION_KEYS

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE = "focus-alerts-subscriber"
MANIFEST_QUEUE = "focus-export-manifests"
MANIFEST_SUFFIX = "-Manifest.json"
CRAWLER_ROLE = "arn:aws:iam::123456789012:role/focus-crawler"
CRAWLER_EXCLUSIONS = ["**/_*", "**/*.json", "**/*.tmp"]
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
FINDINGS_COLUMNS: dict[str, str] = {
    "detection_id": "string",
    "fingerprint": "string",
    "severity": "string",
    "workload": "string",
    "billing_period": "string",
    "sub_account_id": "string",
    "region_id": "string",
    "service_code": "string",
    "resource_id": "string",
    "commitment_discount_id": "string",
    "first_seen": "string",
    "amount": "double",
    "evidence": "string",
    "status": "string",
    "execution_id": "string",
    "recorded_at": "string",
}


def _client(service: str, endpoint_url: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _ignore_exists(call: Any, *codes: str, **kwargs: Any) -> None:
    try:
        call(**kwargs)
    except ClientError as err:
        if err.response["Error"]["Code"] not in codes:
            raise


def _table_input(name: str, columns: dict[str, str], location: str, serde: str, partition: str) -> dict:
    parquet = serde == PARQUET_SERDE
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet" if parquet else "json", "EXTERNAL": "TRUE"},
        "PartitionKeys": [{"Name": partition, "Type": "string"}],
        "StorageDescriptor": {
            "Columns": [{"Name": column, "Type": kind} for column, kind in columns.items()],
            "Location": location,
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
            if parquet
            else "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
            if parquet
            else "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": serde},
        },
    }


def provision(endpoint_url: str, config: PipelineConfig | None = None) -> dict:
    """Create buckets, Glue database, crawler and tables, Athena workgroup, SNS topic, SQS subscriber
    and the S3 event notification of new manifests to the ``focus-export-manifests`` queue.

    Safe to call again: resources that exist are left as they are. Returns the names created
    and the URLs and ARNs of both queues.
    """
    config = config or PipelineConfig()
    region = config.region_name
    s3 = _client("s3", endpoint_url, region)
    glue = _client("glue", endpoint_url, region)
    athena = _client("athena", endpoint_url, region)
    sns = _client("sns", endpoint_url, region)
    sqs = _client("sqs", endpoint_url, region)

    for bucket in (config.export_bucket, config.bucket):
        _ignore_exists(s3.create_bucket, "BucketAlreadyOwnedByYou", "BucketAlreadyExists", Bucket=bucket)

    _ignore_exists(glue.create_database, "AlreadyExistsException", DatabaseInput={"Name": config.database})
    snapshots_path = f"s3://{config.bucket}/{config.snapshots_prefix.strip('/')}/"
    folder = config.snapshots_prefix.strip("/").rsplit("/", 1)[-1]
    # Glue names the crawled table <TablePrefix><last folder of the target path>.
    table_prefix = config.snapshots_table[: -len(folder)] if config.snapshots_table.endswith(folder) else ""
    if not config.snapshots_table.endswith(folder):
        log.warning(
            "Table %s does not end with the folder name %s; the crawler will create %s instead",
            config.snapshots_table,
            folder,
            folder,
        )
    crawler_configuration = {
        "Version": 1.0,
        "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
        "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
    }
    _ignore_exists(
        glue.create_crawler,
        "AlreadyExistsException",
        Name=config.crawler_name,
        Role=CRAWLER_ROLE,
        DatabaseName=config.database,
        TablePrefix=table_prefix,
        Targets={"S3Targets": [{"Path": snapshots_path, "Exclusions": CRAWLER_EXCLUSIONS}]},
        SchemaChangePolicy={
            "UpdateBehavior": "UPDATE_IN_DATABASE",
            "DeleteBehavior": "DEPRECATE_IN_DATABASE",
        },
        Configuration=json.dumps(crawler_configuration),
    )

    current_columns = {name.lower(): kind for name, kind in AWS_FOCUS_1_2_COLUMNS.items()}
    _ignore_exists(
        glue.create_table,
        "AlreadyExistsException",
        DatabaseName=config.database,
        TableInput=_table_input(
            config.current_table,
            current_columns,
            f"s3://{config.bucket}/focus/current/",
            PARQUET_SERDE,
            CURRENT_PARTITION_KEYS[0],
        ),
    )
    _ignore_exists(
        glue.create_table,
        "AlreadyExistsException",
        DatabaseName=config.database,
        TableInput=_table_input(
            config.findings_table,
            FINDINGS_COLUMNS,
            f"s3://{config.bucket}/{config.findings_prefix.strip('/')}/",
            JSON_SERDE,
            "period",
        ),
    )

    workgroup_configuration = {
        "ResultConfiguration": {"OutputLocation": config.athena_output},
        "EnforceWorkGroupConfiguration": True,
        "PublishCloudWatchMetricsEnabled": False,
    }
    existing = [wg["Name"] for wg in athena.list_work_groups()["WorkGroups"]]
    if config.workgroup not in existing:
        athena.create_work_group(Name=config.workgroup, Configuration=workgroup_configuration)

    topic_name = config.topic_arn.rsplit(":", 1)[-1]
    attributes = (
        {"FifoTopic": "true", "ContentBasedDeduplication": "false"} if topic_name.endswith(".fifo") else {}
    )
    topic_arn = sns.create_topic(Name=topic_name, Attributes=attributes)["TopicArn"]
    queue_name = SUBSCRIBER_QUEUE + (".fifo" if topic_name.endswith(".fifo") else "")
    queue_attributes = {"FifoQueue": "true"} if queue_name.endswith(".fifo") else {}
    queue_url = sqs.create_queue(QueueName=queue_name, Attributes=queue_attributes)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    subscribed = {
        sub["Endpoint"] for sub in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    }
    if queue_arn not in subscribed:
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "false"},
        )
    manifest_queue_url, manifest_queue_arn = _provision_manifest_events(s3, sqs, config)
    log.info("Provisioned the pipeline resources at %s", endpoint_url)
    return {
        "export_bucket": config.export_bucket,
        "bucket": config.bucket,
        "database": config.database,
        "crawler": config.crawler_name,
        "crawler_path": snapshots_path,
        "snapshots_table": config.snapshots_table,
        "current_table": config.current_table,
        "findings_table": config.findings_table,
        "workgroup": config.workgroup,
        "athena_output": config.athena_output,
        "topic_arn": topic_arn,
        "queue_url": queue_url,
        "queue_arn": queue_arn,
        "manifest_queue_url": manifest_queue_url,
        "manifest_queue_arn": manifest_queue_arn,
    }


def _provision_manifest_events(s3: Any, sqs: Any, config: PipelineConfig) -> tuple[str, str]:
    """Send an S3 event to the manifest queue whenever Data Exports writes a manifest.

    moto 5.2.5 delivers bucket notifications to SQS in server mode, prefix and suffix filters
    included, and sends the ``s3:TestEvent`` message when the configuration is set, as S3 does.
    The configuration is only written when it differs, so calling provision() again sends no
    second test event.
    """
    queue_url = sqs.create_queue(QueueName=MANIFEST_QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    # S3 needs this policy to send to the queue in AWS; moto does not check it.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{config.export_bucket}"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    wanted = {
        "Id": "focus-manifest-created",
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {
            "Key": {
                "FilterRules": [
                    {"Name": "prefix", "Value": f"{config.export_root}/metadata/"},
                    {"Name": "suffix", "Value": MANIFEST_SUFFIX},
                ]
            }
        },
    }
    current = s3.get_bucket_notification_configuration(Bucket=config.export_bucket)
    if current.get("QueueConfigurations") != [wanted]:
        s3.put_bucket_notification_configuration(
            Bucket=config.export_bucket, NotificationConfiguration={"QueueConfigurations": [wanted]}
        )
    return queue_url, queue_arn


def check_endpoint(endpoint_url: str, allowed_hosts: list[str]) -> str:
    """Return ``endpoint_url`` if its host is loopback or in ``allowed_hosts``; raise ValueError otherwise."""
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"Invalid --endpoint-url {endpoint_url!r}: expected a URL like http://127.0.0.1:5000."
        )
    if not is_loopback_host(parts.hostname) and parts.hostname not in allowed_hosts:
        raise ValueError(
            f"Invalid --endpoint-url {endpoint_url!r}: host {parts.hostname!r} is not loopback. "
            "Pass --allow-host NAME for a docker compose service name."
        )
    return endpoint_url


def main(argv: list[str] | None = None) -> int:
    """Provision the default PipelineConfig at ``--endpoint-url`` and print what was created as JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m focus_emulator.provision",
        description="Create the pipeline's AWS resources with their default names in a running emulator.",
    )
    parser.add_argument(
        "--endpoint-url",
        required=True,
        help="emulator URL on 127.0.0.1, localhost or an --allow-host name, e.g. http://127.0.0.1:5000",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="host name other than loopback to accept in --endpoint-url (repeatable)",
    )
    args = parser.parse_args(argv)
    try:
        endpoint_url = check_endpoint(args.endpoint_url, args.allow_host)
    except ValueError as err:
        parser.error(str(err))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    resources = provision(endpoint_url)
    print(json.dumps(resources, indent=2, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
