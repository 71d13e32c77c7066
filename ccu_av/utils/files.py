"""File identities, the package's code version and atomic JSON files."""
import hashlib
import json
import os
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


PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))


def code_version() -> str:
    """sha256 of the package's Python sources (16 hex digits): what cached results and audit
    records name as the code that made them."""
    digest = hashlib.sha256()
    for root, dirs, names in os.walk(PACKAGE_DIR):
        dirs.sort()
        for name in sorted(names):
            if name.endswith('.py'):
                path = osp.join(root, name)
                digest.update(osp.relpath(path, PACKAGE_DIR).encode())
                digest.update(file_sha256(path).encode())
    return digest.hexdigest()[:16]


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
