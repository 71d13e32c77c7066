"""The fleet takedown config (``configs/fleet/*.py``): where the ledger lives, which job runs.

A fleet config is an mmengine config with one section::

    takedown = dict(
        root='work_dirs/fleet',      # runs/, models/, audit/ (and the ledger unless `ledger` is set)
        ledger=None,                 # the SQLite ledger; None: <root>/ledger.sqlite
        job_config='configs/ccu_bevfusion.py',   # the unlearning job of every run
        cfg_options={},              # merged into the job config (evaluation sets, schedule...)
        gate={},                     # verification thresholds (ccu_av.takedown.gate.GATE_DEFAULTS)
        lock_wait_s=0,               # how long `run`/`redact` wait for another runner's lock
        pictures=True)               # open3d pictures of a flagged sample in the audit report
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, Optional

from ..utils.cli import load_config
from .gate import check_thresholds

FLEET_KEYS = ('root', 'ledger', 'job_config', 'cfg_options', 'gate', 'lock_wait_s', 'pictures')


@dataclass(frozen=True)
class FleetConfig:
    """A checked fleet config (see the module doc)."""
    root: str
    ledger: str
    job_config: str
    cfg_options: Dict = field(default_factory=dict)
    gate: Dict[str, float] = field(default_factory=dict)
    lock_wait_s: float = 0.0
    pictures: bool = True
    source: str = ''


def load_fleet_config(path: str, cfg_options: Optional[dict] = None) -> FleetConfig:
    """The fleet config of ``path`` with ``cfg_options`` (``takedown.<key>=value``) merged in.

    Raises:
        FileNotFoundError: no such config, or its job config is missing.
        ValueError: no ``takedown`` section, an unknown key, a value of the wrong type.
    """
    cfg = load_config(path, cfg_options, what='fleet config')
    section = cfg.get('takedown')
    if not isinstance(section, dict):
        raise ValueError(f'fleet config {path} has no `takedown = dict(...)` section (see configs/fleet/)')
    section = section.to_dict() if hasattr(section, 'to_dict') else dict(section)
    unknown = sorted(set(section) - set(FLEET_KEYS))
    if unknown:
        raise ValueError(f'fleet config {path}: unknown takedown keys {unknown}; the keys are {list(FLEET_KEYS)}')
    missing = [key for key in ('root', 'job_config') if not section.get(key)]
    if missing:
        raise ValueError(f'fleet config {path}: takedown.{missing[0]} must be set')
    if not osp.isfile(section['job_config']):
        raise FileNotFoundError(f'fleet config {path}: takedown.job_config {section["job_config"]} does not exist')
    options = section.get('cfg_options') or {}
    if not isinstance(options, dict):
        raise ValueError(f'fleet config {path}: takedown.cfg_options must be a dict of job settings, got {options!r}')
    wait = section.get('lock_wait_s', 0)
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or wait < 0:
        raise ValueError(f'fleet config {path}: takedown.lock_wait_s must be a number >= 0, got {wait!r}')
    pictures = section.get('pictures', True)
    if not isinstance(pictures, bool):
        raise ValueError(f'fleet config {path}: takedown.pictures must be True or False, got {pictures!r}')
    return FleetConfig(
        root=section['root'], ledger=section.get('ledger') or osp.join(section['root'], 'ledger.sqlite'),
        job_config=section['job_config'], cfg_options=dict(options),
        gate=check_thresholds(section.get('gate') or {}, f'fleet config {path}: takedown.gate'),
        lock_wait_s=float(wait), pictures=pictures, source=path)
