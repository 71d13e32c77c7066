"""tools/unlearn.py end to end on a tiny synthetic dataset with a tiny detector."""
import json
import sys
from pathlib import Path

import mmengine
import pytest
import torch
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / 'tools'), str(ROOT / 'tests' / 'models')]

import unlearn as unlearn_tool  # noqa: E402  (tools/unlearn.py)
from model_fixtures import tiny_model_cfg  # noqa: E402

from ccu_av.utils import load_checkpoint_file  # noqa: E402

IMAGE_SIZE = (24, 40)  # (H, W)
TINY_RANGE = [-12.8, -12.8, -5.0, 12.8, 12.8, 3.0]  # tiny_model_cfg's


def _innermost(dataset: dict) -> dict:
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


def _tiny(cfg: Config, data_root: str, model_key: str) -> None:
    """Shrink a config in place: tiny model (at ``model_key``), batches of 2, no workers, the
    given data root."""
    cfg.merge_from_dict({model_key: tiny_model_cfg(num_cams=6, image_size=IMAGE_SIZE)})
    pipelines = [cfg.membership_pipeline]
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(name):
            cfg[name].update(batch_size=2, num_workers=0, persistent_workers=False)
            dataset = _innermost(cfg[name].dataset)
            dataset.data_root = data_root
            pipelines.append(dataset.pipeline)
    for step in (step for pipeline in pipelines for step in pipeline):
        if step['type'] == 'LoadCameraImages':
            step['erased_image_size'] = IMAGE_SIZE
    cfg.default_hooks.logger.interval = 1


def write_configs(tmp_path, data_root, ccu_iters=3, pretrain_iters=2, job_config='ccu_bevfusion.py'):
    pretrain = Config.fromfile(str(ROOT / 'configs' / 'pretrain_camradar_bevfusion.py'))
    _tiny(pretrain, data_root, 'model')
    pretrain.val_dataloader = pretrain.val_evaluator = pretrain.val_cfg = None
    pretrain.train_cfg.update(max_iters=pretrain_iters)
    pretrain.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    pretrain_path = str(tmp_path / 'tiny_pretrain.py')
    pretrain.dump(pretrain_path)

    job = Config.fromfile(str(ROOT / 'configs' / job_config))
    _tiny(job, data_root, 'model.detector')
    job.train_cfg.update(max_iters=ccu_iters, val_interval=ccu_iters + 1)
    job.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=5)
    if 'point_cloud_range' in job.model.objective:
        job.model.objective.point_cloud_range = TINY_RANGE
    job.train_dataloader.dataset.takedown = dict(locations=['boston-seaport'])
    job.job.update(
        pretrain_config=pretrain_path, cache_dir=str(tmp_path / 'cache'), retain_eval_scenes_per_location=1,
        membership_kwargs=dict(folds=2, group_by_scene=False),  # 2 scenes a set: no scene folds
        synthetic=dict(seed=0, locations=('singapore-onenorth', 'boston-seaport'),
                       takedown_location='boston-seaport', train_scenes_per_location=1,
                       val_scenes_per_location=1, samples_per_scene=2,
                       image_width=IMAGE_SIZE[1], image_height=IMAGE_SIZE[0],
                       objects_per_scene=(4, 6), lidar_azimuth_steps=90, lidar_beams=8, private_sites=0))
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
    assert changed
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
        assert set(model['figures']['camera']) == {'forget', 'retain', 'val', 'val_other', 'val_same'}
    assert set(report['membership_inference']) == {'original', 'ccu', 'visual_retrain'}
    assert report['derived']['ccu']['mean_abs_gap_to_visual_retrain'] is not None
    # the radar-only path is the original's, so are its figures on every set
    assert report['models']['ccu']['figures']['radar'] == report['models']['original']['figures']['radar']
    retrain = load_checkpoint_file(out['models']['visual_retrain']['checkpoint'])['state_dict']
    assert any(not torch.equal(retrain[k], original[k]) for k in original)
    assert Path(out['report']['md']).is_file() and Path(out['report']['png']).stat().st_size > 0
    headline = unlearn_tool.headline_table(out['report']['json'])
    assert headline.splitlines()[0].split()[:2] == ['model', 'cam']
    # the work dir is marked complete: no other job may take it over
    assert json.loads((tmp_path / 'run1' / 'job.json').read_text())['state'] == 'complete'

    # a second job reuses the cached original model (same file, no new training)
    out2 = unlearn_tool.main([job, '--work-dir', str(tmp_path / 'run2')])
    assert out2['models']['original']['checkpoint'] == out['models']['original']['checkpoint']
    assert sorted(p.name.split('-')[0] for p in (tmp_path / 'cache').iterdir()) == [
        'original', 'predictions', 'visual_retrain_seed0']


@pytest.mark.slow
def test_finetuning_and_a_full_retrain_run_through_the_same_job(tmp_path):
    job = write_configs(tmp_path, str(tmp_path / 'data'), job_config='unlearn/finetune_bevfusion.py')
    out = unlearn_tool.main([job, '--work-dir', str(tmp_path / 'run'), '--reference', 'full-retrain'])
    report = json.loads(Path(out['report']['json']).read_text())
    assert list(report['models']) == ['original', 'finetune', 'full_retrain']
    assert report['models']['full_retrain']['role'] == 'full_retrain'
    # the full retrain trained on the retain samples alone (the config its runner dumped)
    (dumped,) = (tmp_path / 'cache').glob('full_retrain_seed0-*/run/tiny_pretrain.py')
    retain = json.loads((tmp_path / 'run' / 'takedown' / 'retain_tokens.json').read_text())
    assert sorted(Config.fromfile(str(dumped)).train_dataloader.dataset.sample_tokens) == sorted(retain)
    assert report['models']['finetune']['role'] == 'unlearned'
    original = load_checkpoint_file(out['models']['original']['checkpoint'])['state_dict']
    tuned = load_checkpoint_file(out['models']['finetune']['checkpoint'])['state_dict']
    changed = {k.split('.')[0] for k in original if not torch.equal(original[k], tuned[k])}
    assert {'img_backbone', 'radar_encoder', 'bbox_head'} <= changed  # nothing frozen


@pytest.mark.slow
def test_a_launcher_is_refused_and_resume_needs_a_checkpoint(tmp_path, refused):
    job = write_configs(tmp_path, str(tmp_path / 'data'))
    refused(unlearn_tool.main, [job, '--launcher', 'pytorch'], match='^unlearn: error: --launcher pytorch is refused')
    refused(unlearn_tool.main, [job, '--work-dir', str(tmp_path / 'run'), '--resume'],
            match='holds no checkpoint to resume from')
    refused(unlearn_tool.main, [job, '--cfg-options', 'job.modes=[fusion]'], match=r"unknown job keys \['modes'\]")
    (tmp_path / 'broken.py').write_text('a = 1\nb = (\n')
    refused(unlearn_tool.main, [str(tmp_path / 'broken.py')], match=r'broken.py: line 2: .* \(not valid Python\)')
    with pytest.raises(SystemExit) as usage:  # argparse's usage error, naming the pair
        unlearn_tool.main([job, '--cfg-options', 'job.cache_dir'])
    assert usage.value.code == 2


@pytest.mark.slow
def test_work_dir_of_another_job_is_refused_before_training(tmp_path, refused):
    data_root = str(tmp_path / 'data')
    job = write_configs(tmp_path, data_root)
    (tmp_path / 'run').mkdir()
    (tmp_path / 'run' / 'job.json').write_text(json.dumps(dict(config_sha256='0' * 64, takedown='[]')))
    refused(unlearn_tool.main, [job, '--work-dir', str(tmp_path / 'run')], match='holds the results of another job')
    assert not Path(data_root).exists()  # refused before anything was written


@pytest.mark.slow
def test_a_job_that_fails_its_checks_leaves_the_work_dir_untouched(tmp_path, refused):
    job = write_configs(tmp_path, str(tmp_path / 'data'))
    work_dir = tmp_path / 'run'
    # a takedown that flags every training scene: refused before the claim
    refused(unlearn_tool.main, [job, '--work-dir', str(work_dir), '--cfg-options',
                                'train_dataloader.dataset.takedown.locations=[singapore-onenorth,boston-seaport]'],
            match='flags every training scene')
    assert not work_dir.exists()
    # an original of another architecture: refused strictly before anything trains from it
    torch.save({'state_dict': {'not_a_key': torch.zeros(1)}}, tmp_path / 'other.pth')
    refused(unlearn_tool.main, [job, '--work-dir', str(work_dir), '--cfg-options',
                                f'model.original_checkpoint={tmp_path / "other.pth"}'], match='does not fit CamRadarBEVFusion')
    assert not work_dir.exists()


def _two_location_infos(tmp_path, train_scenes_per_location: int):
    """Info files of a tiny 2-location synthetic dataset (2 samples a scene)."""
    from ccu_av.datasets import create_nuscenes_infos
    from ccu_av.datasets.synthetic import SyntheticNuScenesConfig, write_synthetic_nuscenes
    from ccu_av.jobs import DataFiles
    root = tmp_path / 'data'
    write_synthetic_nuscenes(root, SyntheticNuScenesConfig(
        locations=('singapore-onenorth', 'boston-seaport'), takedown_location='boston-seaport',
        train_scenes_per_location=train_scenes_per_location, val_scenes_per_location=1,
        samples_per_scene=2,
        image_width=40, image_height=24, objects_per_scene=(2, 3), lidar_azimuth_steps=60,
        lidar_beams=4, private_sites=0))
    infos = create_nuscenes_infos(str(root), 'v1.0-synthetic', str(root),
                                  train_split='synthetic_train', val_split='synthetic_val')
    return DataFiles(train_info=infos['train'], val_info=infos['val'])


def _job(takedown: dict, retain_eval_scenes_per_location=1, forget_eval_scenes=None, membership=False) -> Config:
    """The parts of a job config that the select step reads."""
    return Config(dict(
        job=dict(retain_eval_scenes_per_location=retain_eval_scenes_per_location,
                 forget_eval_scenes=forget_eval_scenes, membership=membership),
        train_dataloader=dict(dataset=dict(type='UnlearningDataset', takedown=takedown))))


def test_unknown_location_in_the_takedown_is_a_clear_error(tmp_path):
    from ccu_av.jobs import steps
    files = _two_location_infos(tmp_path, 1)
    with pytest.raises(ValueError, match='atlantis'):
        steps.select(_job(dict(locations=['atlantis'])), files, str(tmp_path / 'takedown'))
    assert not (tmp_path / 'takedown').exists()


def test_forget_eval_scenes_caps_the_reports_forget_set_not_the_takedown(tmp_path):
    from ccu_av.datasets import TakedownSelection
    from ccu_av.jobs import steps
    files = _two_location_infos(tmp_path, 3)
    request = dict(locations=['boston-seaport'])
    full = steps.select(_job(request), files, str(tmp_path / 'a'))
    capped = steps.select(_job(request, forget_eval_scenes=2), files, str(tmp_path / 'b'))
    assert len(full.forget) == 6 and full.forget_eval == full.forget
    # the takedown itself is unchanged; the report evaluates the first 2 flagged scenes' samples
    assert capped.forget == full.forget and capped.retain == full.retain
    assert capped.forget_eval == full.forget[:4]
    # None evaluates everything: the whole retain set (here 3 scenes) instead of 1 scene a location
    everything = steps.select(_job(request, None), files, str(tmp_path / 'd'))
    assert sorted(everything.retain_eval) == sorted(full.retain)
    assert len(full.retain_eval) == 2
    # the selection written is the one loaded back
    loaded = TakedownSelection.load(str(tmp_path / 'a'))
    assert loaded.forget_tokens == full.forget and loaded.request.locations == ('boston-seaport',)
    for bad in (dict(forget_eval_scenes=0), dict(retain_eval_scenes_per_location=0)):
        with pytest.raises(ValueError, match=list(bad)[0]):
            steps.select(_job(request, **dict(dict(retain_eval_scenes_per_location=1), **bad)),
                         files, str(tmp_path / 'c'))


def test_a_takedown_that_touches_every_location_leaves_no_val_other_and_is_refused(tmp_path):
    from ccu_av.jobs import steps
    files = _two_location_infos(tmp_path, 2)
    records = mmengine.load(files.train_info)['data_list']
    first_of_each = list({r['location']: r['scene_name'] for r in reversed(records)}.values())
    with pytest.raises(ValueError, match=r"report sets \['val_other'\] empty"):
        steps.select(_job(dict(scenes=first_of_each)), files, str(tmp_path / 't'))
    assert not (tmp_path / 't').exists()


def test_too_few_scenes_for_the_membership_attacks_folds_is_refused_at_selection(tmp_path):
    """Caught before anything trains (a fleet run once found it only at its report)."""
    from ccu_av.jobs import steps
    infos = _two_location_infos(tmp_path, train_scenes_per_location=3)
    request = dict(locations=['boston-seaport'])
    with pytest.raises(ValueError, match=r"5 folds need at least 5 scenes .*'retain': 1, 'val': 2.*retain_eval_scenes_per_location"):
        steps.select(_job(request, membership=True), infos)
