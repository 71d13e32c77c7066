"""A synthetic nuScenes-format dataset writer: cameras, radars and LIDAR_TOP simulated in 4 locations.

``write_synthetic_nuscenes(out_dir, config, seed)`` writes a dataroot that the unmodified
nuscenes-devkit loads, with custom splits ``synthetic_train`` / ``synthetic_val`` (and per
location ``synthetic_train_<location>`` / ``synthetic_val_<location>``) in ``<version>/splits.json``,
and with private sites (``SyntheticNuScenesConfig.private_sites``) each site's scenes as
``synthetic_site_<site>``.
"""
from .config import NUSCENES_LOCATIONS, SyntheticNuScenesConfig
from .writer import META_FILE, TRAIN_SPLIT, VAL_SPLIT, site_split_name, split_name, write_synthetic_nuscenes

__all__ = ['SyntheticNuScenesConfig', 'write_synthetic_nuscenes', 'NUSCENES_LOCATIONS', 'TRAIN_SPLIT',
           'VAL_SPLIT', 'META_FILE', 'split_name', 'site_split_name']
