"""File identities and atomic JSON files."""
import hashlib
import json
import os.path as osp

from .checkpoint import atomic_write


def file_sha256(path: str, chunk_size: int = 1 << 20) -> str:
    """The sha256 of a file's bytes (a checkpoint's identity in caches and reports)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'no file to hash at {path}')
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def write_json_atomic(path: str, content) -> None:
    """Write JSON (no NaN) to a temporary file beside ``path`` and rename it into place."""
    atomic_write(path, json.dumps(content, allow_nan=False).encode())


def read_json(path: str, remedy: str, error: type = ValueError):
    """The JSON content of ``path``; a file that is not valid JSON raises ``error`` naming it and
    ``remedy`` (what the user can do about it)."""
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as cause:
            raise error(f'{path} is not valid JSON ({cause}); {remedy}') from cause
