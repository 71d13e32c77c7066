"""tools/retain_support.py on the tiny job: the pre-pass's forget weights, per scene."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'jobs'))

from test_unlearn_job import write_configs  # noqa: E402


def test_it_prints_each_flagged_scene_s_forget_weight_and_writes_them(load_tool, tmp_path, capsys):
    tool = load_tool('retain_support')
    job = write_configs(tmp_path, str(tmp_path / 'data'))
    out = tool.main([job, '--quantile', '0.2', '--json', str(tmp_path / 'weights.json')])
    printed = capsys.readouterr().out
    assert 'support_quantile 0.2' in printed and '| scene | samples | mean forget weight |' in printed
    # the tiny takedown flags boston-seaport's one training scene; the one retain scene (another
    # location) cannot support it: no retain image of a camera in two scenes, so weight 1
    assert list(out['scenes']) == ['scene-0003']
    assert out['scenes']['scene-0003'] == 1.0
    written = json.loads((tmp_path / 'weights.json').read_text())
    assert written == out['samples'] and len(written) == 2


def test_it_refuses_a_method_without_retain_support(load_tool, tmp_path, refused):
    tool = load_tool('retain_support')
    job = write_configs(tmp_path, str(tmp_path / 'data'), job_config='unlearn/finetune_bevfusion.py')
    refused(tool.main, [job], match='retain support is CCU')
