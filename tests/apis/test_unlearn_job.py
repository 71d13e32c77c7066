"""tools/unlearn.py end to end on a tiny synthetic dataset with a tiny detector."""
import json
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / 'tools'), str(ROOT / 'tests' / 'models')]

import unlearn as unlearn_tool  # noqa: E402  (tools/unlearn.py)
from model_fixtures import tiny_model_cfg  # noqa: E402

from ccu_av.apis import WorkDirConflict  # noqa: E402
from ccu_av.utils import load_checkpoint_file  # noqa: E402

IMAGE_SIZE = (24, 40)  # (H, W)
TINY_RANGE = [-12.8, -12.8, -5.0, 12.8, 12.8, 3.0]  # tiny_model_cfg's


def _tiny(cfg: Config, data_root: str) -> None:
    """Shrink a config in place: tiny model, batches of 2, no workers, the given data root."""
    cfg.model = tiny_model_cfg(num_cams=6, image_size=IMAGE_SIZE)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(name):
            cfg[name].update(batch_size=2, num_workers=0, persistent_workers=False)
            cfg[name].dataset.data_root = data_root
            for step in cfg[name].dataset.pipeline:
                if step['type'] == 'LoadCameraImages':
                    step['erased_image_size'] = IMAGE_SIZE
    cfg.default_hooks.logger.interval = 1


def write_configs(tmp_path, data_root, ccu_iters=3, pretrain_iters=2):
    pretrain = Config.fromfile(str(ROOT / 'configs' / 'pretrain_camradar_bevfusion.py'))
    _tiny(pretrain, data_root)
    pretrain.val_dataloader = pretrain.val_evaluator = pretrain.val_cfg = None
    pretrain.train_cfg.update(max_iters=pretrain_iters)
    pretrain.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    pretrain_path = str(tmp_path / 'tiny_pretrain.py')
    pretrain.dump(pretrain_path)

    job = Config.fromfile(str(ROOT / 'configs' / 'ccu_bevfusion.py'))
    _tiny(job, data_root)
    job.train_cfg.update(max_iters=ccu_iters, val_interval=ccu_iters + 1)
    job.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=5)
    job.custom_hooks[0].forget_dataloader.update(batch_size=2, num_workers=0)
    job.ccu.point_cloud_range = TINY_RANGE
    job.job.update(
        pretrain_config=pretrain_path, cache_dir=str(tmp_path / 'cache'),
        takedown=dict(locations=['boston-seaport']), retain_eval_scenes_per_location=1,
        membership_kwargs=dict(folds=2, group_by_scene=False),  # 2 scenes a set: no scene folds
        synthetic=dict(seed=0, locations=('singapore-onenorth', 'boston-seaport'),
                       takedown_location='boston-seaport', train_scenes_per_location=1,
                       val_scenes_per_location=1, samples_per_scene=2,
                       image_width=IMAGE_SIZE[1], image_height=IMAGE_SIZE[0],
                       objects_per_scene=(4, 6), lidar_azimuth_steps=90, lidar_beams=8))
    job_path = str(tmp_path / 'tiny_ccu.py')
    job.dump(job_path)
    return job_path


@pytest.mark.slow
def test_main_job_writes_data_pretrains_once_and_unlearns(tmp_path):
    data_root = str(tmp_path / 'data')
    job = write_configs(tmp_path, data_root)
    out = unlearn_tool.main([job, '--work-dir', str(tmp_path / 'run1'), '--reference', 'visual-retrain'])

    # 1. the synthetic dataset and its info files were written
    assert (Path(data_root) / 'v1.0-synthetic').is_dir()
    assert (Path(data_root) / 'nuscenes_infos_train.pkl').is_file()
    # 2. the takedown: the flagged location's training samples, and the rest
    forget = json.loads((tmp_path / 'run1' / 'takedown' / 'forget_tokens.json').read_text())
    retain = json.loads((tmp_path / 'run1' / 'takedown' / 'retain_tokens.json').read_text())
    assert len(forget) == 2 and len(retain) == 2 and not set(forget) & set(retain)
    # 3. the original model was trained and cached; 4. CCU changed it
    original = load_checkpoint_file(out['models']['original']['checkpoint'])['state_dict']
    unlearned = load_checkpoint_file(out['models']['ccu']['checkpoint'])['state_dict']
    assert original.keys() == unlearned.keys()
    changed = [k for k in original if not torch.equal(original[k], unlearned[k])]
    assert any(k.startswith('img_backbone') for k in changed)
    # only the camera branch trains (the config freezes the rest, batch-norm statistics included):
    # radar knowledge kept by construction
    frozen = ('radar_encoder', 'fuser', 'bev_backbone', 'bev_neck', 'bbox_head')
    assert not [k for k in changed if k.startswith(frozen)]
    assert not [k for k in changed if k.endswith(('running_mean', 'running_var', 'num_batches_tracked'))]

    # 5. the report: every model on every set and mode, with the attack's figures
    report = json.loads(Path(out['report']['json']).read_text())
    assert list(report['models']) == ['original', 'ccu', 'visual_retrain']
    for model in report['models'].values():
        assert set(model['figures']) == {'fusion', 'camera', 'radar'}
        assert set(model['figures']['camera']) == {'forget', 'retain', 'val', 'val_other'}
    assert set(report['membership_inference']) == {'original', 'ccu', 'visual_retrain'}
    assert report['derived']['ccu']['mean_abs_gap_to_visual_retrain'] is not None
    # the radar-only path is the original's, so are its figures on every set
    assert report['models']['ccu']['figures']['radar'] == report['models']['original']['figures']['radar']
    retrain = load_checkpoint_file(out['models']['visual_retrain']['checkpoint'])['state_dict']
    assert any(not torch.equal(retrain[k], original[k]) for k in original)
    assert Path(out['report']['md']).is_file() and Path(out['report']['png']).stat().st_size > 0
    headline = unlearn_tool.headline_table(out['report']['json'])
    assert headline.splitlines()[0].split()[:2] == ['model', 'cam']

    # a second job reuses the cached original model (same file, no new training)
    out2 = unlearn_tool.main([job, '--work-dir', str(tmp_path / 'run2')])
    assert out2['models']['original']['checkpoint'] == out['models']['original']['checkpoint']
    assert sorted(p.name.split('-')[0] for p in (tmp_path / 'cache').iterdir()) == [
        'original', 'predictions', 'visual_retrain']


@pytest.mark.slow
def test_work_dir_of_another_job_is_refused_before_training(tmp_path):
    data_root = str(tmp_path / 'data')
    job = write_configs(tmp_path, data_root)
    (tmp_path / 'run').mkdir()
    (tmp_path / 'run' / 'job.json').write_text(json.dumps(dict(config_sha256='0' * 64, takedown='[]')))
    with pytest.raises(WorkDirConflict, match='holds the results of another job'):
        unlearn_tool.main([job, '--work-dir', str(tmp_path / 'run')])
    assert not Path(data_root).exists()  # refused before anything was written


def _two_location_infos(tmp_path, train_scenes_per_location: int) -> dict:
    """Info files of a tiny 2-location synthetic dataset (2 samples a scene)."""
    from ccu_av.datasets import create_nuscenes_infos
    from ccu_av.datasets.synthetic import SyntheticNuScenesConfig, write_synthetic_nuscenes
    root = tmp_path / 'data'
    write_synthetic_nuscenes(root, SyntheticNuScenesConfig(
        locations=('singapore-onenorth', 'boston-seaport'), takedown_location='boston-seaport',
        train_scenes_per_location=train_scenes_per_location, val_scenes_per_location=1,
        samples_per_scene=2,
        image_width=40, image_height=24, objects_per_scene=(2, 3), lidar_azimuth_steps=60,
        lidar_beams=4))
    return create_nuscenes_infos(str(root), 'v1.0-synthetic', str(root),
                                 train_split='synthetic_train', val_split='synthetic_val')


def test_unknown_location_in_the_takedown_is_a_clear_error(tmp_path):
    from ccu_av.apis import takedown_sets
    infos = _two_location_infos(tmp_path, 1)
    with pytest.raises(ValueError, match='atlantis'):
        takedown_sets(infos['train'], infos['val'], dict(locations=['atlantis']),
                      str(tmp_path / 'takedown'), 1)
    assert not (tmp_path / 'takedown').exists()


def test_forget_eval_scenes_caps_the_reports_forget_set_not_the_takedown(tmp_path):
    from ccu_av.apis import takedown_sets
    infos = _two_location_infos(tmp_path, 3)
    request = dict(locations=['boston-seaport'])
    full = takedown_sets(infos['train'], infos['val'], request, str(tmp_path / 'a'), 1)
    capped = takedown_sets(infos['train'], infos['val'], request, str(tmp_path / 'b'), 1,
                           forget_eval_scenes=2)
    assert len(full['forget']) == 6 and full['forget_eval'] == full['forget']
    # the takedown itself is unchanged; the report evaluates the first 2 flagged scenes' samples
    assert capped['forget'] == full['forget'] and capped['retain'] == full['retain']
    assert capped['forget_eval'] == full['forget'][:4]
    # None evaluates everything: the whole retain set (here 3 scenes) instead of 1 scene a location
    everything = takedown_sets(infos['train'], infos['val'], request, str(tmp_path / 'd'), None)
    assert sorted(everything['retain_eval']) == sorted(full['retain'])
    assert len(full['retain_eval']) == 2
    with pytest.raises(ValueError, match='forget_eval_scenes'):
        takedown_sets(infos['train'], infos['val'], request, str(tmp_path / 'c'), 1,
                      forget_eval_scenes=0)
