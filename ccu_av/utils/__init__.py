"""Project-wide plumbing: safe checkpoint loading and atomic writes."""
from .checkpoint import (AtomicLocalBackend, atomic_write, CheckpointError, install_mmengine_overrides,
                         load_checkpoint_file)

__all__ = ['AtomicLocalBackend', 'atomic_write', 'CheckpointError', 'install_mmengine_overrides',
           'load_checkpoint_file']
