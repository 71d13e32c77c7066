"""Fleet privacy takedowns: requests, the ledger, the verification gate, the audit trail and
camera-data redaction (``tools/takedown.py``, ``docs/takedown.md``)."""
from .config import FLEET_KEYS, FleetConfig, load_fleet_config
from .fleet import Fleet, TakedownError, camera_files, pose_records, run_config
from .gate import GATE_DEFAULTS, describe_verdict, verification_gate
from .ledger import Ledger, LedgerError, LedgerLocked, RunLock
from .request import PrivacyRequest, RequestError, load_request, parse_request, resolve_request

__all__ = ['FLEET_KEYS', 'GATE_DEFAULTS', 'Fleet', 'FleetConfig', 'Ledger', 'LedgerError', 'LedgerLocked',
           'PrivacyRequest', 'RequestError', 'RunLock', 'TakedownError', 'camera_files', 'describe_verdict',
           'load_fleet_config', 'load_request', 'parse_request', 'pose_records', 'resolve_request', 'run_config',
           'verification_gate']
