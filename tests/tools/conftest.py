"""Fixtures of the tool tests: the tools loaded as modules, the tiny detector's helpers on the path."""
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'evaluation'))  # tiny_detector


@pytest.fixture(scope='session')
def load_tool():
    """``load_tool('test')``: ``tools/test.py`` as a module."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f'tool_{name}', ROOT / 'tools' / f'{name}.py')
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
