"""The main job (``tools/unlearn.py``) as library functions."""
from .job_steps import cached_training, ensure_dataset, takedown_sets
from .unlearn_job import WorkDirConflict, claim_work_dir, run_job

__all__ = ['WorkDirConflict', 'cached_training', 'claim_work_dir', 'ensure_dataset', 'run_job',
           'takedown_sets']
