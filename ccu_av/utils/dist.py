"""Process-group set-up for multi-process runs on a CPU-only torch."""
import os

import torch.distributed as dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config) -> None:
    """Initialise gloo from torchrun's environment and keep DDP off ``device_ids``.

    mmengine's ``launcher='pytorch'`` path calls ``torch.cuda.set_device`` and wraps DDP with
    ``device_ids``, which fail without CUDA; with the process group initialised here the Runner
    skips its own initialisation.

    Raises:
        RuntimeError: torchrun's variables are missing from the environment.
    """
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher pytorch needs {missing} in the environment: start it with torchrun')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                 broadcast_buffers=False)
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
