"""Samples whose camera footage was redacted from a dataroot (``tools/takedown.py redact``).

A redacted sample keeps its radar sweeps and boxes; its camera files are gone (deleted, or moved
to a quarantine folder). The dataroot records which samples those are in ``REDACTION_FILE``::

    {"schema": 1, "samples": {"<sample token>": ["samples/CAM_FRONT/....jpg", ...], ...}}

(paths relative to the dataroot). ``CamRadarNuScenesDataset`` reads it and treats every listed
sample as camera-erased, as the visual retrain does with its forget set, so no later training or
evaluation run reads, or fails on, footage that is no longer there. The file is written before
the first camera file is removed, so an interrupted redaction never leaves a sample whose files
are gone but which the data layer still loads.
"""
import hashlib
import json
import os.path as osp
from typing import Dict, Mapping, Optional, Sequence, Set

from ..utils import read_json, write_json_atomic

REDACTION_FILE = 'redacted_cameras.json'
SCHEMA = 1


def redaction_file(data_root: str) -> str:
    """Where the redaction record of ``data_root`` lives."""
    return osp.join(data_root, REDACTION_FILE)


def redacted_samples(data_root: str) -> Dict[str, list]:
    """Sample token -> its redacted camera files (relative paths); empty when nothing was redacted."""
    path = redaction_file(data_root)
    if not osp.isfile(path):
        return {}
    content = read_json(path, 'restore it from the takedown audit record (tools/takedown.py verify)')
    if not isinstance(content, dict) or content.get('schema') != SCHEMA or not isinstance(content.get('samples'), dict):
        raise ValueError(f'{path} is not a redaction record of schema {SCHEMA} '
                         '({"schema": 1, "samples": {token: [files]}}); restore it from the takedown audit record')
    return content['samples']


def redacted_tokens(data_root: str) -> Set[str]:
    """The samples of ``data_root`` whose camera footage was redacted."""
    return set(redacted_samples(data_root))


def record_redaction(data_root: str, samples: Mapping[str, Sequence[str]]) -> None:
    """Add ``samples`` (token -> camera files, relative to ``data_root``) to the record, atomically."""
    merged = dict(redacted_samples(data_root))
    for token, files in samples.items():
        merged[token] = sorted(set(merged.get(token, [])) | set(files))
    write_json_atomic(redaction_file(data_root), dict(schema=SCHEMA, samples=dict(sorted(merged.items()))))


def redaction_digest(data_root: str) -> Optional[str]:
    """A short digest of the redaction record's samples (None when nothing was redacted): what
    caches of predictions or trained models must be keyed on, since redaction changes the data."""
    tokens = redacted_tokens(data_root)
    if not tokens:
        return None
    return hashlib.sha256(json.dumps(sorted(tokens)).encode()).hexdigest()[:16]
