"""Fixtures of the evaluation tests: a tiny nuScenes dataroot and its tables (tiny_nusc_tables)."""
import os
from pathlib import Path

import pytest

from tiny_nusc_tables import VERSION, write_tiny_nuscenes


@pytest.fixture(scope='session')
def tiny_dataroot(tmp_path_factory) -> Path:
    return write_tiny_nuscenes(tmp_path_factory.mktemp('tiny_nuscenes'))


@pytest.fixture(scope='session')
def tiny_nusc(tiny_dataroot):
    from nuscenes import NuScenes
    return NuScenes(version=VERSION, dataroot=os.fspath(tiny_dataroot), verbose=False)
