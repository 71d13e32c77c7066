"""Write ccu_av's info files (mmdet3d v2 format + radar sweeps) for a nuScenes dataroot.

    python tools/create_data.py --root-path data/nuscenes --version v1.0-mini --out-dir data/nuscenes
    python tools/create_data.py --root-path data/synthetic_nuscenes --version v1.0-synthetic \
        --out-dir data/synthetic_nuscenes
"""
import argparse

from mmengine.logging import MMLogger

from ccu_av.datasets.nuscenes_converter import create_nuscenes_infos
from ccu_av.utils.cli import sigterm_cleans_up, user_errors


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--root-path', required=True, help='nuScenes dataroot (holds the version folder)')
    parser.add_argument('--version', default='v1.0-trainval', help='version folder, e.g. v1.0-mini')
    parser.add_argument('--out-dir', required=True, help='where the info files go')
    parser.add_argument('--split-file', default=None,
                        help='JSON of split name -> scene names (default: the devkit\'s predefined splits for '
                             'v1.0-trainval/v1.0-mini, else the custom splits in <root>/<version>/splits.json)')
    parser.add_argument('--train-split', default=None,
                        help='training split name (default: train with --split-file, train/mini_train for '
                             'predefined versions, synthetic_train otherwise)')
    parser.add_argument('--val-split', default=None, help='validation split name (defaults as --train-split)')
    parser.add_argument('--info-prefix', default='nuscenes', help='info files are <prefix>_infos_<split>.pkl')
    parser.add_argument('--max-radar-sweeps', type=int, default=10, help='radar sweeps kept per radar')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    MMLogger.get_instance('ccu_av', log_level='INFO')
    with user_errors('create_data'), sigterm_cleans_up():
        paths = create_nuscenes_infos(args.root_path, args.version, args.out_dir, info_prefix=args.info_prefix,
                                      split_file=args.split_file, train_split=args.train_split,
                                      val_split=args.val_split, max_radar_sweeps=args.max_radar_sweeps)
    for split, path in paths.items():
        print(f'{split}: {path}')


if __name__ == '__main__':
    main()
