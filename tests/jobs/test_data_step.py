"""The job's data step: a synthetic dataroot already there must be the one the job asks for."""
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'jobs'))

from test_unlearn_job import write_configs  # noqa: E402

from ccu_av.jobs import steps  # noqa: E402


def test_a_synthetic_dataroot_written_with_other_knobs_is_refused_naming_them(tmp_path):
    data_root = tmp_path / 'data'
    cfg = Config.fromfile(write_configs(tmp_path, str(data_root)))
    files = steps.data(cfg)  # writes the tiny dataset and its info files
    assert Path(files.train_info).is_file()
    assert steps.data(cfg) == files  # the same knobs: used as it is
    # the cache key of a trained model covers how the data was made, not only the info file
    assert files.training_content() == [files.train_info, str(data_root / 'synthetic_meta.json')]
    cfg.job.synthetic.seed = 1
    with pytest.raises(ValueError, match=r"seed: 0 there, 1 asked"):
        steps.data(cfg)
    cfg.job.synthetic.seed = 0
    cfg.job.synthetic.site_scenes = 1
    cfg.job.synthetic.private_sites = 1
    with pytest.raises(ValueError, match=r'private_sites: None there, 1 asked.*move it away'):
        steps.data(cfg)
