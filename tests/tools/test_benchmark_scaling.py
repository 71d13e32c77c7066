"""tools/benchmark_scaling.py: its three conditions select what they say (no training here; the
timing itself is a benchmark, docs/results.md)."""
import sys
from argparse import Namespace
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'jobs'))

from test_unlearn_job import write_configs  # noqa: E402

from ccu_av.jobs import steps  # noqa: E402
from ccu_av.jobs.config import training_dataset  # noqa: E402

LOCATIONS = ('singapore-onenorth', 'boston-seaport', 'singapore-queenstown')


@pytest.fixture(scope='module')
def scaling(load_tool):
    return load_tool('benchmark_scaling')


@pytest.fixture(scope='module')
def job(tmp_path_factory):
    """The tiny job on three locations with two training scenes each (boston-seaport flagged)."""
    tmp = tmp_path_factory.mktemp('scaling')
    path = write_configs(tmp, str(tmp / 'data'))
    cfg = Config.fromfile(path)
    cfg.job.synthetic.update(locations=LOCATIONS, train_scenes_per_location=2)
    cfg.dump(path)
    return tmp, path


def _args(tmp, path, **kw):
    return Namespace(config=path, cfg_options=None, big_data_root=str(tmp / 'data_2x'),
                     second_location='singapore-onenorth', **kw)


def test_each_condition_doubles_what_it_says_and_keeps_the_rest(scaling, job):
    tmp, path = job
    sizes = {}
    for condition in ('base', 'forget_2x', 'train_2x'):
        cfg, files = scaling.configure(_args(tmp, path), condition)
        sets = steps.select(cfg, files, str(tmp / condition / 'selection'))
        sizes[condition] = (len(sets.forget), len(sets.forget) + len(sets.retain), training_dataset(cfg).data_root)
    base_forget, base_train, base_root = sizes['base']
    assert base_forget == 2 * 2 and base_train == 3 * 2 * 2  # boston's 2 scenes x 2 samples; 3 locations
    assert sizes['forget_2x'] == (2 * base_forget, base_train, base_root)
    assert sizes['train_2x'] == (base_forget, 2 * base_train, str(tmp / 'data_2x'))
    assert (tmp / 'data_2x' / 'v1.0-synthetic').is_dir()
    assert sorted(p.name for p in (tmp / 'data').iterdir()) == sorted(p.name for p in (tmp / 'data_2x').iterdir())


def test_a_takedown_not_of_whole_locations_is_refused_by_name(scaling, job):
    tmp, path = job
    args = _args(tmp, path)
    args.cfg_options = {'train_dataloader.dataset.takedown': dict(scenes=['scene-0001'])}
    with pytest.raises(ValueError, match='whole locations'):
        scaling.configure(args, 'base')


def test_a_second_location_without_training_scenes_is_refused_by_name(scaling, job):
    tmp, path = job
    args = _args(tmp, path)
    args.second_location = 'atlantis'
    with pytest.raises(ValueError, match='--second-location atlantis'):
        scaling.configure(args, 'forget_2x')
