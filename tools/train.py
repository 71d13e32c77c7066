"""Train a ccu_av detector with mmengine's Runner (the arguments of mmdet3d's tools/train.py).

    python tools/train.py configs/pretrain_camradar_bevfusion.py [--work-dir DIR]
        [--cfg-options k=v ...] [--resume [CKPT]] [--launcher none|pytorch|slurm|mpi]

On GPUs ``--launcher pytorch`` (with torchrun) takes mmengine's stock path. On a CPU-only torch
mmengine's path calls ``torch.cuda.set_device`` and wraps DDP with ``device_ids``, which fail; so
here the ``gloo`` process group is initialised before the Runner is built (the Runner then skips
its own initialisation) and DDP is wrapped without ``device_ids``.
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from ccu_av.utils import setup_cpu_distributed
from ccu_av.utils.dist import default_find_unused_parameters
from ccu_av.utils.cli import CfgOptions, load_config, user_errors


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a ccu_av 3D detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or from the latest one in the work dir if none given')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptions,
        help='override settings of the config, key=value pairs (xxx=yyy format)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_cfg(args) -> Config:
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.resume is not None:
        check_resume(cfg, args.resume)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.launcher != 'none':
        default_find_unused_parameters(cfg)  # modality dropout runs one branch alone on some iterations
    if args.launcher == 'pytorch' and not torch.cuda.is_available():
        try:
            setup_cpu_distributed(cfg)
        except RuntimeError as error:
            raise ValueError(str(error)) from error
    elif torch.cuda.is_available():
        cfg.env_cfg.dist_cfg = dict(backend='nccl')
    return cfg


def check_resume(cfg: Config, resume: str) -> None:
    """Refuse ``--resume`` without a checkpoint to resume from (mmengine would log "resumed from
    None" and train from scratch) or with one that does not fit the configured model (mmengine
    loads it non-strictly and trains a partly random model): the checkpoint is loaded strictly
    into ``cfg.model`` first."""
    from ccu_av.models.weights import build_detector
    if resume == 'auto':
        marker = osp.join(cfg.work_dir, 'last_checkpoint')
        if not osp.isfile(marker):
            raise FileNotFoundError(f'--resume: {cfg.work_dir} holds no checkpoint to resume from (no '
                                    'last_checkpoint); drop --resume to train from scratch, or name the '
                                    'checkpoint: --resume CKPT')
        with open(marker) as f:
            resume = f.read().strip()
    if not osp.isfile(resume):
        raise FileNotFoundError(f'--resume: checkpoint {resume} does not exist')
    build_detector(cfg, resume)


def main(argv=None):
    args = parse_args(argv)
    with user_errors('train'):
        cfg = build_cfg(args)
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
