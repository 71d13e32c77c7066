"""A takedown job as composable steps (``tools/unlearn.py`` composes them; ``docs/architecture.md``)."""
from . import steps
from .config import (JOB_KEYS, check_job_config, data_settings, detector_config, load_job_config,
                     pretrain_config, takedown_request)
from .steps import REFERENCES, DataFiles, TakedownSets, TrainedModel, cached_training, method_name
from .work_dir import WorkDirConflict, check_work_dir, claim_work_dir, complete_work_dir

__all__ = ['DataFiles', 'JOB_KEYS', 'REFERENCES', 'TakedownSets', 'TrainedModel', 'WorkDirConflict',
           'cached_training', 'check_job_config', 'check_work_dir', 'claim_work_dir', 'complete_work_dir', 'data_settings',
           'detector_config', 'load_job_config', 'method_name', 'pretrain_config', 'steps', 'takedown_request']
