import json

import numpy as np
import pytest

from ccu_av.visualization.boxes import (CLASS_NAMES, BoxSet, load_submission, submission_boxes)
from ccu_av.visualization.scene import load_sample_scene, open_nuscenes


def test_from_any_splits_velocity_and_checks_shapes():
    arr = np.array([[1, 2, -1, 4, 2, 1.5, 0.3, 0.5, -0.5]])
    boxes = BoxSet.from_any(arr, [3], [0.9])
    np.testing.assert_allclose(boxes.boxes, arr[:, :7])
    np.testing.assert_allclose(boxes.velocity, [[0.5, -0.5]])
    assert boxes.labels.tolist() == [3] and boxes.scores.tolist() == [0.9]
    with pytest.raises(ValueError, match=r'\(K, 7\)'):
        BoxSet.from_any(np.zeros((2, 5)), [0, 0])
    with pytest.raises(ValueError, match='labels must lie in'):
        BoxSet(np.zeros((1, 7)), [10])
    with pytest.raises(ValueError, match='2 boxes but 1 scores'):
        BoxSet(np.zeros((2, 7)), [0, 1], [0.5])


def test_corners_put_the_front_face_along_the_heading():
    yaw = 0.7
    boxes = BoxSet([[3.0, -2.0, -1.0, 4.0, 2.0, 1.5, yaw]], [0])
    corners = boxes.corners()[0]                                   # (8, 3)
    heading = np.array([np.cos(yaw), np.sin(yaw)])
    along = (corners[:, :2] - [3.0, -2.0]) @ heading
    np.testing.assert_allclose(along[:4], 2.0, atol=1e-9)         # front face, +l/2
    np.testing.assert_allclose(along[4:], -2.0, atol=1e-9)
    np.testing.assert_allclose([corners[:, 2].min(), corners[:, 2].max()], [-1.0, 0.5])


def test_above_keeps_ground_truth_and_filters_predictions():
    gt = BoxSet(np.zeros((2, 7)), [0, 1])
    assert len(gt.above(0.5)) == 2
    pred = BoxSet(np.zeros((3, 7)), [0, 1, 2], [0.1, 0.5, 0.9])
    kept = pred.above(0.5)
    assert kept.labels.tolist() == [1, 2] and kept.scores.tolist() == [0.5, 0.9]


def test_from_any_reads_mmdet3d_lidar_boxes_and_agrees_on_corners():
    structures = pytest.importorskip('mmdet3d.structures')
    import torch
    tensor = torch.tensor([[3.0, -2.0, -1.0, 4.0, 2.0, 1.5, 0.7, 1.0, 2.0]])
    lidar = structures.LiDARInstance3DBoxes(tensor, box_dim=9)
    boxes = BoxSet.from_any(lidar, torch.tensor([1]), torch.tensor([0.8]))
    np.testing.assert_allclose(boxes.velocity, [[1.0, 2.0]])
    ours = np.sort(boxes.corners()[0].round(5), axis=0)
    theirs = np.sort(lidar.corners[0].numpy().astype(np.float64).round(5), axis=0)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    with pytest.raises(TypeError, match='LiDARInstance3DBoxes'):
        BoxSet.from_any(structures.CameraInstance3DBoxes(tensor[:, :7]), [0])


def _submission_of_annotations(nusc, sample_token):
    """The sample's annotations written as a submission (their global boxes, score 1)."""
    results = []
    for ann_token in nusc.get('sample', sample_token)['anns']:
        ann = nusc.get('sample_annotation', ann_token)
        name = 'car' if ann['category_name'] == 'vehicle.car' else 'pedestrian'
        results.append(dict(sample_token=sample_token, translation=ann['translation'],
                            size=ann['size'], rotation=ann['rotation'], velocity=[0.0, 0.0],
                            detection_name=name, detection_score=1.0, attribute_name=''))
    return {'meta': {}, 'results': {sample_token: results}}


def test_submission_boxes_land_on_the_ground_truth(vis_nuscenes, tmp_path):
    nusc = open_nuscenes(vis_nuscenes['dataroot'], vis_nuscenes['version'])
    scene = load_sample_scene(nusc, vis_nuscenes['sample_token'])
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(_submission_of_annotations(nusc, scene.sample_token)))
    pred = submission_boxes(load_submission(path), scene.sample_token, scene.global2lidar)
    np.testing.assert_allclose(pred.boxes, scene.gt.boxes, atol=1e-6)
    assert pred.labels.tolist() == scene.gt.labels.tolist()
    assert pred.scores.tolist() == [1.0, 1.0]
    assert len(submission_boxes(load_submission(path), 'other_token', scene.global2lidar)) == 0


def test_submission_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.json'):
        load_submission(tmp_path / 'missing.json')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"results": [1, 2]}')
    with pytest.raises(ValueError, match='submission format'):
        load_submission(bad)
    results = {'s': [dict(translation=[0, 0, 0], size=[1, 1, 1], rotation=[1, 0, 0, 0],
                          detection_name='tank', detection_score=0.5)]}
    with pytest.raises(ValueError, match="'tank'"):
        submission_boxes(results, 's', np.eye(4))
    assert 'car' in CLASS_NAMES
