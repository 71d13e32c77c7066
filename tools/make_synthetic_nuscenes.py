"""Write the synthetic nuScenes-format dataset (cameras, radars, LIDAR_TOP in 4 locations).

    python tools/make_synthetic_nuscenes.py --out data/synthetic_nuscenes
    python tools/make_synthetic_nuscenes.py --out /tmp/tiny --train-scenes 1 --val-scenes 1 --samples 3 --private-sites 0
    python tools/make_synthetic_nuscenes.py --out /tmp/plain --private-sites 0

The result loads with ``NuScenes(version='v1.0-synthetic', dataroot=OUT)``; its custom splits
(``synthetic_train``, ``synthetic_val`` and per location) are in ``OUT/<version>/splits.json``,
and with ``--private-sites`` each site's training scenes as ``synthetic_site_<site>``.
"""
import argparse
import dataclasses
import json
import os

from mmengine.logging import MMLogger

from ccu_av.datasets.synthetic import NUSCENES_LOCATIONS, SyntheticNuScenesConfig, write_synthetic_nuscenes
from ccu_av.utils.cli import sigterm_cleans_up, user_errors

_DEFAULT = SyntheticNuScenesConfig()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', required=True, help='dataroot to create (must not exist, or be empty)')
    parser.add_argument('--seed', type=int, default=0, help='dataset seed (same seed, same bytes)')
    parser.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1),
                        help='processes writing scenes in parallel (default: up to 2)')
    parser.add_argument('--version', default=_DEFAULT.version, help='table folder name')
    parser.add_argument('--locations', nargs='+', default=list(_DEFAULT.locations), choices=NUSCENES_LOCATIONS,
                        help='locations (logs) to write')
    parser.add_argument('--train-scenes', type=int, default=_DEFAULT.train_scenes_per_location,
                        help='training scenes per location')
    parser.add_argument('--val-scenes', type=int, default=_DEFAULT.val_scenes_per_location,
                        help='validation scenes per location')
    parser.add_argument('--samples', type=int, default=_DEFAULT.samples_per_scene, help='key frames per scene (2 Hz)')
    parser.add_argument('--image-size', type=int, nargs=2, default=(_DEFAULT.image_width, _DEFAULT.image_height),
                        metavar=('W', 'H'), help='camera image width and height')
    parser.add_argument('--radar-sweeps', type=int, default=_DEFAULT.radar_sweeps_per_interval,
                        help='radar sweeps per key-frame interval')
    parser.add_argument('--radar-scale', type=float, default=_DEFAULT.radar_return_scale,
                        help='factor on the mean radar returns per object')
    parser.add_argument('--max-range', type=float, default=_DEFAULT.max_range, help='lidar and radar range, m')
    parser.add_argument('--takedown-location', default=_DEFAULT.takedown_location, choices=NUSCENES_LOCATIONS,
                        help='the location whose training scenes the default takedown flags')
    parser.add_argument('--private-sites', type=int, default=_DEFAULT.private_sites,
                        help='private sites per location: stretches of road with a camera look of their own, '
                             f'only in training scenes (default {_DEFAULT.private_sites}; 0: none)')
    parser.add_argument('--site-scenes', type=int, default=_DEFAULT.site_scenes,
                        help='training scenes each private site appears in')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    MMLogger.get_instance('ccu_av', log_level='INFO')
    config = dataclasses.replace(
        _DEFAULT, version=args.version, locations=tuple(args.locations), train_scenes_per_location=args.train_scenes,
        val_scenes_per_location=args.val_scenes, samples_per_scene=args.samples, image_width=args.image_size[0],
        image_height=args.image_size[1], radar_sweeps_per_interval=args.radar_sweeps,
        radar_return_scale=args.radar_scale, max_range=args.max_range, takedown_location=args.takedown_location,
        private_sites=args.private_sites, site_scenes=args.site_scenes)
    with user_errors('make_synthetic_nuscenes'), sigterm_cleans_up():
        summary = write_synthetic_nuscenes(args.out, config, seed=args.seed, workers=args.workers)
    brief = {k: v for k, v in summary.items() if k != 'splits'}
    brief['splits'] = {name: len(scenes) for name, scenes in summary['splits'].items()}
    print(json.dumps(brief, indent=1))
    return summary


if __name__ == '__main__':
    main()
