"""In-process access to moto's S3 backend, which the Glue crawler and the Athena engine read and write.

The emulator serves moto in the same process, so these helpers read the objects that clients
uploaded over HTTP without another round trip.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

PARTITION = "aws"


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int
    etag: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into bucket and key; raise ValueError for other schemes."""
    if not uri.startswith("s3://"):
        raise ValueError(f"Invalid S3 location {uri!r}: expected s3://bucket/prefix.")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _backend(account_id: str = DEFAULT_ACCOUNT_ID):  # noqa: ANN202 - moto's backend type is private
    return s3_backends[account_id][PARTITION]


def list_objects(bucket: str, prefix: str, account_id: str = DEFAULT_ACCOUNT_ID) -> list[S3Object]:
    """List the current objects under a prefix, sorted by key; a missing bucket lists nothing."""
    backend = _backend(account_id)
    if bucket not in backend.buckets:
        return []
    found = []
    for key in list(backend.buckets[bucket].keys.values()):
        if getattr(key, "is_delete_marker", False) or not key.name.startswith(prefix):
            continue
        found.append(S3Object(bucket, key.name, key.size, key.etag.strip('"')))
    return sorted(found, key=lambda obj: obj.key)


def read_object(bucket: str, key: str, account_id: str = DEFAULT_ACCOUNT_ID) -> bytes:
    found = _backend(account_id).get_object(bucket, key)
    if found is None:
        raise FileNotFoundError(f"S3 object s3://{bucket}/{key} not found.")
    return found.value


def put_object(bucket: str, key: str, body: bytes, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    _backend(account_id).put_object(bucket, key, body)


class FileCache:
    """Local copies of S3 objects for DuckDB, keyed by bucket, key and ETag."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def local_path(self, obj: S3Object, account_id: str = DEFAULT_ACCOUNT_ID) -> Path:
        digest = hashlib.sha256(f"{obj.bucket}/{obj.key}/{obj.etag}".encode()).hexdigest()[:32]
        suffix = Path(obj.key).suffix
        path = self.root / f"{digest}{suffix}"
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(path.suffix + f".{os.getpid()}.part")
            partial.write_bytes(read_object(obj.bucket, obj.key, account_id))
            partial.replace(path)
        return path
