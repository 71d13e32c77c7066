"""Per-class NMS: two classes' hypotheses on one object survive; same-class duplicates do not."""
import pytest
import torch

import ccu_av.models  # noqa: F401  (registers ClassNMSCenterHead)
from mmdet3d.registry import MODELS
from mmdet3d.structures import LiDARInstance3DBoxes


def build_head(head_type, post_max_size=100):
    rng = [-20.0, -20.0, -10.0, 20.0, 20.0, 10.0]
    return MODELS.build(dict(
        type=head_type,
        in_channels=8,
        tasks=[dict(num_class=2, class_names=['truck', 'bus'])],
        common_heads=dict(reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2), vel=(2, 2)),
        share_conv_channel=8,
        bbox_coder=dict(type='CenterPointBBoxCoder', pc_range=rng[:2], post_center_range=rng,
                        max_num=50, score_threshold=0.0, out_size_factor=1,
                        voxel_size=[0.5, 0.5], code_size=9),
        separate_head=dict(type='SeparateHead', init_bias=-2.19, final_kernel=1, head_conv=8),
        test_cfg=dict(post_center_limit_range=rng, score_threshold=0.05, nms_type='rotate',
                      nms_thr=0.2, pre_max_size=100, post_max_size=post_max_size)))


def decoded():
    """Four decoded boxes (x, y, z, l, w, h, yaw, vx, vy) of one task, as the coder gives them."""
    def box(x, y):
        return [x, y, 0.0, 10.0, 2.5, 3.0, 0.0, 0.0, 0.0]
    boxes = torch.tensor([box(0, 0), box(0, 0), box(0.3, 0), box(10, 10), box(-10, 0)])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.01])
    # truck, bus on the same truck; a second truck box on it; a bus elsewhere; a low score
    labels = torch.tensor([0, 1, 0, 1, 0])
    return [scores], [boxes], [labels], [dict(box_type_3d=LiDARInstance3DBoxes)]


def kept(head):
    [result] = head.get_task_detections(2, *decoded())
    return result['scores'].tolist(), result['labels'].tolist(), result['bboxes']


def test_per_task_nms_of_mmdet3d_drops_the_second_class_on_an_object():
    scores, labels, _ = kept(build_head('CenterHead'))
    assert scores == pytest.approx([0.9, 0.6]) and labels == [0, 1]


def test_per_class_nms_keeps_one_box_per_class_and_object():
    scores, labels, boxes = kept(build_head('ClassNMSCenterHead'))
    assert scores == pytest.approx([0.9, 0.8, 0.6])  # best first; the 0.7 duplicate and 0.01 gone
    assert labels == [0, 1, 1]
    assert boxes[:, :2].tolist() == [[0, 0], [0, 0], [10, 10]]


def test_post_max_size_caps_the_task_after_the_per_class_nms():
    scores, labels, _ = kept(build_head('ClassNMSCenterHead', post_max_size=2))
    assert scores == pytest.approx([0.9, 0.8]) and labels == [0, 1]


def test_no_boxes_gives_empty_results():
    head = build_head('ClassNMSCenterHead')
    meta = [dict(box_type_3d=LiDARInstance3DBoxes)]
    [result] = head.get_task_detections(
        2, [torch.zeros(0)], [torch.zeros(0, 9)], [torch.zeros(0, dtype=torch.long)], meta)
    assert result['bboxes'].shape == (0, 9) and result['scores'].numel() == 0
