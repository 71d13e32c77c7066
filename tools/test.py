"""Evaluate a detector checkpoint on the test split in fusion, camera-only and radar-only mode.

    python tools/test.py CONFIG CHECKPOINT [--modalities fusion camera radar] [--work-dir DIR]
        [--cache-dir DIR] [--cfg-options k=v ...]

The samples are those of the config's ``test_dataloader`` (its info file); the figures are
nuScenes mAP, NDS, the mean TP errors and the per-class APs on the ground truth of the
``test_evaluator``'s dataroot, computed by ``ccu_av.evaluation.modal_eval.evaluate_modes`` (the
evaluator of the unlearning report). A checkpoint of another architecture is refused with the
mismatching keys named. The figures of every modality go to ``WORK_DIR/test_metrics.json``.
"""
import argparse
import os.path as osp
import sys
import time

from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.utils import mkdir_or_exist

from ccu_av.evaluation.modal_eval import evaluate_modes, split_tokens
from ccu_av.utils import write_json_atomic
from ccu_av.models.interface import MODALITIES
from ccu_av.utils.cli import CfgOptions, user_errors
from ccu_av.utils.cli import load_config as config_file

SET = 'test'  # the one evaluated set: the test dataloader's samples


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a ccu_av detector per modality')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--modalities', nargs='+', choices=MODALITIES, default=list(MODALITIES))
    parser.add_argument('--work-dir', help='where the log and test_metrics.json go')
    parser.add_argument('--cache-dir', help='prediction cache: a repeated evaluation reads its '
                        'predictions from here instead of running the model')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptions,
        help='override settings of the config, key=value pairs (xxx=yyy format)')
    return parser.parse_args(argv)


def load_config(args) -> Config:
    """The config with ``--cfg-options`` merged and its work dir resolved."""
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
    cfg = config_file(args.config, args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def run(args) -> str:
    """Evaluate the checkpoint on the test split; returns the path of test_metrics.json."""
    cfg = load_config(args)
    mkdir_or_exist(cfg.work_dir)
    log_file = osp.join(cfg.work_dir, f'test_{time.strftime("%Y%m%d_%H%M%S")}.log')
    MMLogger.get_instance(f'ccu_av.test:{osp.abspath(log_file)}', log_file=log_file)
    tokens = split_tokens(cfg)
    figures = evaluate_modes(cfg, args.checkpoint, {SET: tokens}, args.modalities, args.cache_dir)
    metrics = {mode: by_set[SET] for mode, by_set in figures.items()}
    out = osp.join(cfg.work_dir, 'test_metrics.json')
    write_json_atomic(out, dict(config=args.config, checkpoint=args.checkpoint,
                                num_samples=len(tokens), metrics=metrics))
    for mode, flat in metrics.items():
        print(f'{mode:8s} mAP {flat["mAP"]:.4f}, NDS {flat["NDS"]:.4f}')
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        with user_errors('test', TypeError):
            out = run(args)
    except SystemExit as exit_:
        return exit_.code
    print(f'metrics written to {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
