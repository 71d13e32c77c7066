"""Project-wide plumbing: safe checkpoint loading, atomic writes, file hashes, runner helpers,
CPU process-group set-up."""
from .checkpoint import (AtomicLocalBackend, atomic_write, CheckpointError, install_mmengine_overrides,
                         load_checkpoint_file)
from .dist import setup_cpu_distributed
from .files import code_version, file_sha256, read_json, write_json_atomic
from .runner import export_weights, release_dataloader_workers

__all__ = ['AtomicLocalBackend', 'atomic_write', 'CheckpointError', 'code_version', 'export_weights', 'file_sha256',
           'install_mmengine_overrides', 'load_checkpoint_file', 'read_json', 'release_dataloader_workers',
           'setup_cpu_distributed', 'write_json_atomic']
