"""Pictures of a nuScenes sample (real or synthetic): bird's-eye view, six cameras, open3d 3D view.

Draws radar (all radars over N sweeps, with velocities), lidar, ground truth, and the predictions
of up to two checkpoints (e.g. original vs unlearned on a flagged scene) or of nuScenes submission
files. A window opens when a display exists; the PNGs are written in every case (headless open3d
rendering through Mesa's software EGL).

Examples:
    python tools/visualize.py data/synthetic_nuscenes --scene scene-0003 --out-dir vis/
    python tools/visualize.py data/nuscenes --version v1.0-trainval --sample TOKEN \\
        --config configs/ccu_bevfusion.py --checkpoint original.pth --checkpoint2 unlearned.pth \\
        --mode camera --out-dir vis/
"""
import argparse
import os
import sys
from pathlib import Path

from ccu_av.utils.cli import CfgOptions

from ccu_av.utils.checkpoint import CheckpointError
from ccu_av.visualization import LAYOUTS, PICTURES, HeadlessRenderError, render_scene
from ccu_av.visualization.colors import COLOR_MODES
from ccu_av.visualization.scene import load_sample_scene, open_nuscenes, resolve_sample_token

MODES = ('fusion', 'camera', 'radar')   # ccu_av.models.interface.MODALITIES; importing it loads mmdet3d


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('dataroot', help='nuScenes dataroot (holds VERSION/ and the sensor files)')
    parser.add_argument('--version', default='v1.0-trainval', help='table folder under the dataroot')
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument('--sample', help='sample token')
    which.add_argument('--scene', help='scene name or token (with --index)')
    parser.add_argument('--index', type=int, default=0, help='sample index within --scene')
    parser.add_argument('--out-dir', default='vis', help='folder for the PNGs')
    parser.add_argument('--sweeps', type=int, default=5, help='radar sweeps per radar')
    parser.add_argument('--color-by', choices=COLOR_MODES, default='sensor', help='radar point colours')
    parser.add_argument('--layout', choices=LAYOUTS, default='side_by_side',
                        help='a panel per box source, or all boxes in one panel')
    parser.add_argument('--no-gt', action='store_true', help='leave the ground truth out')
    parser.add_argument('--pictures', nargs='+', choices=PICTURES, default=list(PICTURES))
    parser.add_argument('--bev-range', type=float, default=50.0, help='metres shown around the ego in the BEV')
    parser.add_argument('--camera-scale', type=float, default=0.5, help='scale of the camera pictures')
    parser.add_argument('--score-thr', type=float, default=0.3, help='predictions under it are not drawn')
    parser.add_argument('--predictions', nargs='+', default=[], metavar='JSON',
                        help='nuScenes submission files (global frame), one panel each')
    parser.add_argument('--config', help='model + dataset config (needed with --checkpoint)')
    parser.add_argument('--checkpoint', help='checkpoint to predict with')
    parser.add_argument('--checkpoint2', help='second checkpoint (e.g. the unlearned model)')
    parser.add_argument('--mode', choices=MODES, default='fusion',
                        help='modalities the checkpoints predict with (camera: radar switched off)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions, help='config overrides')
    display = parser.add_mutually_exclusive_group()
    display.add_argument('--show', dest='interactive', action='store_true', default=None,
                         help='open the 3D window (default: when DISPLAY is set)')
    display.add_argument('--no-show', dest='interactive', action='store_false')
    args = parser.parse_args(argv)
    if (args.checkpoint or args.checkpoint2) and not args.config:
        parser.error('--checkpoint and --checkpoint2 need --config.')
    if args.checkpoint2 and not args.checkpoint:
        parser.error('--checkpoint2 needs --checkpoint.')
    return args


def checkpoint_predictions(args, sample_token: str) -> dict:
    """{'checkpoint <stem> (<mode>)': boxes} for --checkpoint and --checkpoint2."""
    # imported here: they load mmdet3d's models, which pictures without checkpoints do not need
    from ccu_av.models.weights import build_detector
    from ccu_av.visualization.predict import find_sample, load_config, predict_sample
    cfg = load_config(args.config, args.cfg_options)
    dataset, index = find_sample(cfg, sample_token)
    predictions = {}
    for option, checkpoint in (('checkpoint', args.checkpoint), ('checkpoint2', args.checkpoint2)):
        if checkpoint:
            model = build_detector(cfg, checkpoint).to(args.device)
            name = f'{option} {Path(checkpoint).stem} ({args.mode})'   # unique, even for equal stems
            predictions[name] = predict_sample(model, dataset, index, args.mode)
    return predictions


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        paths = run(args)
    except (ValueError, TypeError, FileNotFoundError, CheckpointError, HeadlessRenderError) as err:
        print(f'visualize: error: {err}', file=sys.stderr)
        return 2
    for name, path in paths.items():
        print(f'{name}: {path}')
    return 0


def run(args) -> dict:
    """Draw the sample the arguments name; returns {picture name: PNG path}."""
    nusc = open_nuscenes(args.dataroot, args.version)
    token = resolve_sample_token(nusc, args.sample, args.scene, args.index)
    scene = load_sample_scene(nusc, token, args.sweeps)
    predictions = {f'{i + 1}: {Path(p).stem}': p for i, p in enumerate(args.predictions)}
    if args.checkpoint:
        predictions.update(checkpoint_predictions(args, token))
    interactive = args.interactive if args.interactive is not None else bool(os.environ.get('DISPLAY'))
    return render_scene(scene, args.out_dir, predictions, show_gt=not args.no_gt,
                        layout=args.layout, color_by=args.color_by, score_thr=args.score_thr,
                        bev_range=args.bev_range, camera_scale=args.camera_scale,
                        pictures=tuple(args.pictures), interactive=interactive)


if __name__ == '__main__':
    sys.exit(main())
