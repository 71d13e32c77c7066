"""Evaluate a detector checkpoint on the validation split in fusion, camera-only and radar-only mode.

    python tools/test.py CONFIG CHECKPOINT [--modalities fusion camera radar] [--work-dir DIR]
        [--cfg-options k=v ...]

The metric is the config's ``test_evaluator`` (ccu_av's nuScenes evaluation). A checkpoint from
a different architecture is refused with the mismatching keys named. The metrics of every
modality go to ``WORK_DIR/test_metrics.json``.
"""
import argparse
import os.path as osp
import sys

import mmengine
from mmengine.config import Config, DictAction
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from ccu_av.models.interface import MODALITIES
from ccu_av.models.weights import load_detector_weights


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate a ccu_av detector per modality')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--modalities', nargs='+', choices=MODALITIES, default=list(MODALITIES))
    parser.add_argument('--work-dir', help='where logs and test_metrics.json go')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs (xxx=yyy format)')
    return parser.parse_args(argv)


def build_runner(args) -> Runner:
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = None  # loaded below, with the architecture check
    cfg.resume = False
    return Runner.from_cfg(cfg)


def evaluate_modalities(runner: Runner, checkpoint: str, modalities) -> dict:
    """``{modality: metrics}`` from the runner's test loop, one pass per modality."""
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    load_detector_weights(model, checkpoint)
    results = {}
    try:
        for modality in modalities:
            model.modality = modality
            runner.logger.info(f'evaluating {checkpoint} in {modality!r} mode')
            results[modality] = {k: float(v) for k, v in runner.test().items()}
    finally:
        model.modality = 'fusion'
    return results


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        sys.exit(f'checkpoint {args.checkpoint} does not exist')
    runner = build_runner(args)
    results = evaluate_modalities(runner, args.checkpoint, args.modalities)
    out = osp.join(runner.work_dir, 'test_metrics.json')
    mmengine.dump(dict(checkpoint=args.checkpoint, metrics=results), out, indent=2)
    for modality, metrics in results.items():
        shown = {k: v for k, v in metrics.items() if k.endswith(('/mAP', '/NDS'))}
        print(f'{modality:8s} ' + ', '.join(f'{k} {v:.4f}' for k, v in shown.items()))
    print(f'metrics written to {out}')


if __name__ == '__main__':
    main()
