"""The method is built from the job config before anything trains: a wrong option is refused
naming its key, and the check leaves the config as it was (a changed config would change the
cache keys of the original and the references)."""
from pathlib import Path

import pytest

from ccu_av.jobs import load_job_config, steps

ROOT = Path(__file__).resolve().parents[2]


def test_check_method_refuses_a_wrong_option_and_leaves_the_config_unchanged():
    cfg = load_job_config(str(ROOT / 'configs' / 'ccu_bevfusion.py'))
    before = cfg.pretty_text
    steps.check_method(cfg)
    assert cfg.pretty_text == before
    bad = load_job_config(str(ROOT / 'configs' / 'ccu_bevfusion.py'), {'model.objective.support_quantile': 1.5})
    with pytest.raises(ValueError, match=r'support_quantile must be None or in \[0, 1\), got 1.5'):
        steps.check_method(bad)


def test_the_membership_options_a_job_may_set_are_the_attacks_own():
    import inspect
    from ccu_av.evaluation.membership import membership_inference
    from ccu_av.jobs.config import MEMBERSHIP_KWARGS
    options = [p.name for p in inspect.signature(membership_inference).parameters.values()
               if p.default is not inspect.Parameter.empty and p.name != 'cache_dir']
    assert list(MEMBERSHIP_KWARGS) == options
