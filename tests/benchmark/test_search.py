"""The fair comparison's search (ccu_av/benchmark/search.py, tools/search.py): search files are
checked before anything runs, and the setting with the smallest gap to the retrains is chosen."""
import glob
import json
from pathlib import Path

import pytest
from mmengine.config import Config

from ccu_av.benchmark.search import MAX_SETTINGS, load_search, render_search, run_search

ROOT = Path(__file__).resolve().parents[2]


def test_every_shipped_search_names_an_existing_method_and_at_most_8_settings():
    files = sorted(glob.glob(str(ROOT / 'configs' / 'search' / '*.py')))
    methods = set()
    for path in files:
        cfg = Config.fromfile(path)
        assert (ROOT / cfg.method).is_file(), path
        assert 1 <= len(cfg.settings) <= MAX_SETTINGS, path
        methods.add(cfg.method)
    assert len(methods) == 10  # CCU (several searches of its knobs) and the nine baselines of docs/method.md


def test_the_ccu_search_loads_every_setting_built(monkeypatch):
    monkeypatch.chdir(ROOT)
    search = load_search('configs/search/ccu.py')
    assert search['name'] == 'ccu' and len(search['settings']) == 8
    assert search['settings']['image_forget1'] == {'model.objective.w_image_forget': 1.0}


@pytest.mark.parametrize('settings, message', [
    ("{'x': {'model.objective.w_unlern': 1.0}}", r"setting 'x': model.objective \(CCU\): unknown arguments \['w_unlern'\]"),
    ("{'x': {'optim_wrapper.optimizer.lrr': 1.0}}", r"setting 'x' sets \['optim_wrapper.optimizer.lrr'\], which .* does not have"),
    ('{f"s{i}": {} for i in range(9)}', r'settings must hold 1 to 8 entries .*got 9'),
    ('{}', r'settings must hold 1 to 8 entries'),
])
def test_a_bad_search_file_is_refused_naming_the_setting(tmp_path, monkeypatch, settings, message):
    monkeypatch.chdir(ROOT)
    path = tmp_path / 'bad.py'
    path.write_text(f"method = 'configs/unlearn/ccu_bevfusion.py'\nsettings = {settings}\n")
    with pytest.raises(ValueError, match=message):
        load_search(str(path))


def test_an_unknown_key_or_a_missing_method_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    (tmp_path / 'a.py').write_text("method = 'configs/unlearn/ccu_bevfusion.py'\nsettings = {'x': {}}\nlr = 1\n")
    with pytest.raises(ValueError, match=r"unknown keys \['lr'\]; a search file has \['method', 'settings'\]"):
        load_search(str(tmp_path / 'a.py'))
    (tmp_path / 'b.py').write_text("method = 'configs/unlearn/nope.py'\nsettings = {'x': {}}\n")
    with pytest.raises(FileNotFoundError, match='method config configs/unlearn/nope.py does not exist'):
        load_search(str(tmp_path / 'b.py'))


def _figures(cam_forget: float, retain: float) -> dict:
    cells = dict(forget=dict(mAP=cam_forget, NDS=cam_forget), retain=dict(mAP=retain, NDS=retain),
                 val_other=dict(mAP=retain, NDS=retain))
    return {mode: cells for mode in ('camera', 'radar', 'fusion')}


def _record(tmp_path, name: str, cam_forget: float, gap) -> dict:
    """A takedown record and its report: original, two retrains, and the method."""
    models = dict(original=('original', _figures(0.30, 0.40)), visual_retrain_seed0=('visual_retrain', _figures(0.20, 0.40)),
                  visual_retrain_seed1=('visual_retrain', _figures(0.22, 0.40)), ccu=('unlearned', _figures(cam_forget, 0.39)))
    report = dict(models={m: dict(role=role, figures=fig, wall_time_s=100.0) for m, (role, fig) in models.items()},
                  membership_inference={m: dict(forget_vs_val_auc=0.5) for m in models},
                  derived=dict(ccu=dict(mean_abs_gap_to_visual_retrain=gap)))
    path = tmp_path / f'{name}.json'
    path.write_text(json.dumps(report))
    return dict(report=str(path), method='ccu', takedown=dict(name='development', kind='k', role='development'),
                models={m: dict(role=role) for m, (role, _) in models.items()})


def test_the_smallest_gap_is_chosen_and_shown(tmp_path):
    gaps = dict(a=0.020, b=0.011, c=None)  # c: a report without a retrain gap is never chosen
    search = dict(name='ccu', method='configs/unlearn/ccu_bevfusion.py',
                  settings={n: {'model.objective.w_unlearn': i} for i, n in enumerate(gaps)})
    ran = []

    def run_setting(name, options):
        ran.append((name, options))
        return _record(tmp_path, name, 0.21, gaps[name])

    result = run_search(search, run_setting)
    assert [n for n, _ in ran] == ['a', 'b', 'c'] and ran[1][1] == {'model.objective.w_unlearn': 1}
    assert result['chosen'] == 'b'
    assert [r['gap'] for r in result['rows']] == [0.020, 0.011, None]
    table = render_search(result, 'python tools/search.py x')
    assert '| **b** |' in table and 'Chosen: b.' in table
    assert result['rows'][0]['camera_forget'] == pytest.approx(0.21)


def test_the_tool_refuses_to_search_on_a_reported_takedown(monkeypatch, refused):
    import importlib.util
    monkeypatch.chdir(ROOT)
    spec = importlib.util.spec_from_file_location('tool_search', ROOT / 'tools' / 'search.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    refused(tool.main, ['configs/search/finetune.py', '--takedown', 'private_site'],
            match=r'--takedown private_site is a reported takedown: settings are chosen on a development takedown only')
    refused(tool.main, ['configs/search/nope.py'], match=r'search file configs/search/nope.py does not exist')


def _search_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location('tool_search', ROOT / 'tools' / 'search.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_a_partial_search_runs_only_the_named_settings_and_says_so(tmp_path, monkeypatch):
    import ccu_av.benchmark
    monkeypatch.chdir(ROOT)
    ran = []

    def fake_run_takedown(method, takedown, seeds, out_dir, **kw):
        name = Path(out_dir).name
        ran.append((name, kw['cfg_options']))
        return _record(tmp_path, name, 0.21, dict(q0_1=0.02, lr3e_4=0.01)[name.replace('.', '_').replace('-', '_')])

    monkeypatch.setattr(ccu_av.benchmark, 'run_takedown', fake_run_takedown)
    result = _search_tool().main(['configs/search/ccu.py', '--settings', 'lr3e-4', 'q0.1', '--out', str(tmp_path / 's')])
    assert [n for n, _ in ran] == ['q0.1', 'lr3e-4']  # the file's order, not the command's
    assert ran[1][1] == {'optim_wrapper.optimizer.lr': 0.0003}
    assert result['chosen'] == 'lr3e-4' and result['partial']['run'] == ['q0.1', 'lr3e-4']
    table = (tmp_path / 's' / 'ccu' / 'search.md').read_text()
    assert table.startswith('**Partial search**: 2 of the 8 settings') and 'not run: as_configured, no_support' in table


def test_an_unknown_setting_name_is_refused_with_the_files_names(monkeypatch, refused):
    monkeypatch.chdir(ROOT)
    refused(_search_tool().main, ['configs/search/ccu.py', '--settings', 'q0.2'],
            match=r'--settings q0.2: not in configs/search/ccu.py, whose settings are as_configured, no_support, q0.1')
