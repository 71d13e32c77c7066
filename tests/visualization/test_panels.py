import numpy as np
import pytest

from ccu_av.visualization.boxes import CLASS_COLORS, BoxSet
from ccu_av.visualization.colors import box_colors
from ccu_av.visualization.panels import make_panels

GT = BoxSet(np.zeros((2, 7)), [0, 8])
PRED = BoxSet(np.zeros((1, 7)), [0], [0.9])


def test_side_by_side_gives_a_panel_per_source_in_class_colours():
    panels = make_panels(GT, {'original': PRED, 'unlearned': PRED})
    assert [p.title for p in panels] == ['ground truth', 'original', 'unlearned']
    for panel in panels:
        (layer,) = panel.layers
        np.testing.assert_array_equal(layer.colors, CLASS_COLORS[layer.boxes.labels])
        assert layer.thickness == 2


def test_overlay_tints_each_prediction_source_differently():
    (panel,) = make_panels(GT, {'original': PRED, 'unlearned': PRED}, layout='overlay')
    gt, first, second = panel.layers
    np.testing.assert_array_equal(gt.colors, CLASS_COLORS[[0, 8]])
    assert (gt.thickness, first.thickness, second.thickness) == (2, 1, 1)
    np.testing.assert_array_equal(first.colors[0], (CLASS_COLORS[0] / 2 + 127.5).round())   # with white
    np.testing.assert_array_equal(second.colors[0], (CLASS_COLORS[0] / 2).round())          # with black
    # without ground truth, predictions are still tinted when overlaid
    (alone,) = make_panels(None, {'original': PRED}, layout='overlay')
    np.testing.assert_array_equal(alone.layers[0].colors, box_colors(np.array([0]), 1, True))


def test_nothing_to_draw_and_bad_layout():
    (panel,) = make_panels(None, {})
    assert panel.layers == [] and panel.title == 'points only'
    with pytest.raises(ValueError, match="layout must be one of .*'grid'"):
        make_panels(GT, {}, layout='grid')
