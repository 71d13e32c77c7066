import importlib.util
from pathlib import Path

import pytest
from vis_dataroot import write_tiny_nuscenes

TOOL = Path(__file__).parents[2] / 'tools' / 'visualize.py'


@pytest.fixture(scope='session')
def vis_nuscenes(tmp_path_factory) -> dict:
    """dict(dataroot, version, sample_token, scene) of the dataroot of ``vis_dataroot``."""
    return write_tiny_nuscenes(tmp_path_factory.mktemp('vis_nuscenes'))


@pytest.fixture(scope='session')
def visualize_tool():
    """tools/visualize.py as a module (``main(argv) -> exit code``)."""
    spec = importlib.util.spec_from_file_location('visualize_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
