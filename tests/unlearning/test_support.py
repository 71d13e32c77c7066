"""Retain support (``ccu_av.unlearning.support``), the per-object / per-sample weights of the CCU
loss terms, and CCU's support pre-pass and forget-sample weighting on the tiny detector.

The support tests use hand-made 2-D embeddings at known angles, so every cosine, threshold and
weight is known: retain objects of "look A" lie a few degrees apart (at 0, 2, ..., 10 degrees),
"look B" is 90 degrees away.
"""
import math

import pytest
import torch

from ccu_av.unlearning import UnlearningModel
from ccu_av.unlearning import losses as L
from ccu_av.unlearning import support as S
from ccu_av.unlearning.objectives import CCU
from ccu_av.unlearning.teacher import snapshot_teacher
from tiny_ccu_model import PCR, ToyBEVDataset, TinyCamRadar, whole_batch


def at(degrees, norm=1.0):
    """(N, 2) vectors at the given angles (the norm does not change any cosine)."""
    angle = torch.tensor(degrees, dtype=torch.float32) * math.pi / 180
    return norm * torch.stack([angle.cos(), angle.sin()], dim=1)


def cosd(degrees):
    return math.cos(math.radians(degrees))


# look A, class 0, three scenes of two objects: (0, 2) (4, 6) (8, 10) degrees. The nearest
# other-scene similarities are cos 4, cos 2, cos 2, cos 2, cos 2, cos 4 (sorted: cos4 x2, cos2 x4),
# so the 0.2 quantile is cos 4 degrees and the 0.5 quantile cos 2 degrees.
RETAIN = torch.cat([at([0, 2]), at([4, 6], norm=3.0), at([8, 10], norm=0.5)])
RETAIN_LABELS = torch.zeros(6, dtype=torch.long)
RETAIN_SCENES = torch.tensor([0, 0, 1, 1, 2, 2])


def support(forget_degrees, forget_labels=None, quantile=0.2, retain=RETAIN, labels=RETAIN_LABELS,
            scenes=RETAIN_SCENES):
    forget = at(forget_degrees, norm=2.0)
    forget_labels = (torch.zeros(len(forget_degrees), dtype=torch.long) if forget_labels is None
                     else torch.tensor(forget_labels))
    return S.object_support(forget, forget_labels, retain, labels, scenes, quantile).tolist()


# ================================================================================ support.py
def test_nearest_similarity_is_the_best_cosine_outside_the_mask():
    query, keys = at([0, 90], norm=2.0), at([10, 80, 45], norm=5.0)
    torch.testing.assert_close(S.nearest_similarity(query, keys), torch.tensor([cosd(10), cosd(10)]))
    mask = torch.tensor([[True, False, False], [False, True, True]])
    torch.testing.assert_close(S.nearest_similarity(query, keys, mask), torch.tensor([cosd(45), cosd(80)]))
    # every key masked, or no key at all: -1
    assert S.nearest_similarity(query, keys, torch.ones(2, 3, dtype=torch.bool)).tolist() == [-1.0, -1.0]
    assert S.nearest_similarity(query, keys[:0]).tolist() == [-1.0, -1.0]
    assert S.nearest_similarity(query[:0], keys).shape == (0,)


def test_forget_objects_of_a_retain_look_are_supported_and_of_another_look_not():
    # look A (5 and 9 degrees: within 1 degree of a retain object) vs look B (90, 120 degrees)
    assert support([5, 9, 90, 120]) == [True, True, False, False]
    # 13 degrees is 3 degrees from the nearest retain object (10): above the 0.2 quantile of the
    # retain similarities (cos 4), below their median (cos 2)
    assert support([13], quantile=0.2) == [True]
    assert support([13], quantile=0.5) == [False]
    # the threshold is the quantile of the nearest other-scene similarities, computed here
    own = S.nearest_similarity(RETAIN, RETAIN, RETAIN_SCENES[:, None] == RETAIN_SCENES[None, :])
    torch.testing.assert_close(own, torch.tensor([cosd(d) for d in (4, 2, 2, 2, 2, 4)]))


def test_only_retain_objects_of_the_same_class_in_two_scenes_support():
    retain = torch.cat([RETAIN, at([90, 91])])
    labels = torch.tensor([0] * 6 + [1, 1])
    scenes = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])  # class 1 is seen in one scene only
    # class 2 has no retain object (though look A of class 0 is right there); class 1's retain
    # objects (at 90.5 degrees' neighbours) are all in one scene; class 0 at 90 degrees: look B
    got = support([5, 5, 90.5, 90], [0, 2, 1, 0], retain=retain, labels=labels, scenes=scenes)
    assert got == [True, False, False, False]


def test_same_scene_neighbours_do_not_set_the_threshold():
    # two scenes, each a pair of near duplicates (0.5 degrees apart), the scenes 60 degrees
    # apart: the retain set's own other-scene similarities are cos 59.5 .. cos 60, so an object
    # at 30 degrees (cos 29.5 to its nearest) is as well supported as a retain object
    retain = at([0, 0.5, 60, 60.5])
    labels = torch.zeros(4, dtype=torch.long)
    two_scenes = torch.tensor([0, 0, 1, 1])
    assert support([30], quantile=0.5, retain=retain, labels=labels, scenes=two_scenes) == [True]
    # were the near duplicates in other scenes, they would set the threshold to cos 0.5
    four_scenes = torch.tensor([0, 1, 2, 3])
    assert support([30], quantile=0.5, retain=retain, labels=labels, scenes=four_scenes) == [False]
    assert support([0.25], quantile=0.5, retain=retain, labels=labels, scenes=four_scenes) == [True]


@pytest.mark.parametrize('quantile', [1.0, -0.1, 1.5])
def test_object_support_refuses_a_quantile_outside_0_1(quantile):
    with pytest.raises(ValueError, match=r'quantile must be in \[0, 1\)'):
        support([5], quantile=quantile)


def test_sample_weights_are_the_rescaled_unsupported_share():
    q = 0.2
    # sample 0: look A objects; 1: look B; 2: one of each; 3: no object; 4: 1 unsupported of 6
    supported = torch.tensor([True, True, False, False, True, False] + [True] * 5 + [False])
    sample_idx = torch.tensor([0, 0, 1, 1, 2, 2] + [4] * 6)
    weights = S.sample_weights(supported, sample_idx, num_samples=5, quantile=q)
    assert weights.dtype == torch.float32 and weights.shape == (5,)
    torch.testing.assert_close(weights, torch.tensor([0.0, 1.0, (0.5 - q) / (1 - q), 1.0, 0.0]))
    # q = 0: the plain unsupported share
    weights = S.sample_weights(supported, sample_idx, num_samples=5, quantile=0.0)
    torch.testing.assert_close(weights, torch.tensor([0.0, 1.0, 0.5, 1.0, 1 / 6]))
    # no object at all
    assert S.sample_weights(supported[:0], sample_idx[:0], 3, q).tolist() == [1.0, 1.0, 1.0]


def test_support_and_sample_weights_end_to_end():
    q = 0.2
    # samples: [A, A], [B, B], [A, B]
    forget = [5, 9, 90, 120, 7, 100]
    sample_idx = torch.tensor([0, 0, 1, 1, 2, 2])
    supported = torch.tensor(support(forget, quantile=q))
    weights = S.sample_weights(supported, sample_idx, 3, q)
    torch.testing.assert_close(weights, torch.tensor([0.0, 1.0, (0.5 - q) / (1 - q)]))


@pytest.mark.parametrize('quantile', [1.0, -0.1])
def test_sample_weights_refuse_a_quantile_outside_0_1(quantile):
    with pytest.raises(ValueError):
        S.sample_weights(torch.tensor([False]), torch.tensor([0]), 1, quantile)


def test_lookup_returns_the_values_in_the_tokens_order_and_names_a_missing_token():
    tokens = ['tok-a', 'tok-b', 'tok-c']
    keys = torch.tensor([S.token_key(t) for t in tokens], dtype=torch.long)
    values = torch.tensor([0.1, 0.2, 0.3])
    torch.testing.assert_close(S.lookup(keys, values, ['tok-c', 'tok-a', 'tok-c', 'tok-b']),
                               torch.tensor([0.3, 0.1, 0.3, 0.2]))
    assert S.lookup(keys, values, []).shape == (0,)
    with pytest.raises(KeyError, match='tok-unseen'):
        S.lookup(keys, values, ['tok-a', 'tok-unseen'])
    with pytest.raises(KeyError, match='tok-a'):  # nothing stored yet
        S.lookup(keys[:0], values[:0], ['tok-a'])


def test_token_key_is_a_fixed_60_bit_integer_distinct_for_distinct_tokens():
    # fixed across processes (it is stored in checkpoints): not Python's salted hash()
    assert S.token_key('a') == 607843303088085631
    assert S.token_key('ca9a282c9e77460f8360f564131a8af5') == 253959730111359426
    assert S.token_key('tok') == S.token_key('tok')
    tokens = [f'{i:032x}' for i in range(2000)] + ['a', 'b', 'A', 'a ']
    keys = [S.token_key(t) for t in tokens]
    assert len(set(keys)) == len(tokens)
    assert all(0 <= k < 2 ** 60 for k in keys)
    torch.tensor(keys, dtype=torch.long)  # fits a long buffer


# ==================================================================== weighted loss terms
@pytest.fixture
def embeddings():
    g = torch.Generator().manual_seed(0)
    t = torch.randn(5, 4, generator=g)
    z = (t + 0.3 * torch.randn(5, 4, generator=g)).requires_grad_()
    labels = torch.tensor([0, 1, 2, 0, 1])
    r = torch.randn(6, 4, generator=g)
    protos, proto_labels = L.class_prototypes(torch.cat([t, r]), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1]))
    return dict(z=z, t=t, labels=labels, r=r, protos=protos, proto_labels=proto_labels)


def weighted_terms(e, weights):
    """name -> (weighted value, unweighted value) of the four terms with weights."""
    s = e['z'].reshape(5, 2, 2)  # feature_consistency: weights on the first dimension
    tf = e['t'].reshape(5, 2, 2)
    keys = (e['z'], e['t'], e['labels'], e['protos'], e['proto_labels'])
    return dict(
        inverse_infonce=(L.inverse_infonce(*keys, 0.1, weights), L.inverse_infonce(*keys, 0.1)),
        spread=(L.spread_preservation(e['z'], e['t'], weights), L.spread_preservation(e['z'], e['t'])),
        separation=(L.separation(e['z'], e['t'], e['r'], weights), L.separation(e['z'], e['t'], e['r'])),
        feature_consistency=(L.feature_consistency(s, tf, weights), L.feature_consistency(s, tf)))


def test_weights_of_one_reproduce_every_unweighted_term_exactly(embeddings):
    for name, (weighted, plain) in weighted_terms(embeddings, torch.ones(5)).items():
        assert plain > 0, name  # a test of something
        torch.testing.assert_close(weighted, plain, rtol=0, atol=0, msg=name)


def test_weights_of_zero_give_zero_terms_and_zero_gradients(embeddings):
    for name, (weighted, _) in weighted_terms(embeddings, torch.zeros(5)).items():
        assert weighted.item() == 0.0, name
        grad, = torch.autograd.grad(weighted, embeddings['z'])
        assert not grad.any(), name


def test_a_weight_of_two_doubles_one_object_s_contribution(embeddings):
    e, w = embeddings, torch.tensor([2.0, 1.0, 1.0, 1.0, 1.0])
    z, t, labels, r = e['z'].detach(), e['t'], e['labels'], e['r']
    # separation and inverse InfoNCE are means of per-object terms: one object alone is its term
    sep = [L.separation(z[i:i + 1], t[i:i + 1], r) for i in range(5)]
    inv = [L.inverse_infonce(z[i:i + 1], t[i:i + 1], labels[i:i + 1], e['protos'], e['proto_labels'], 0.1)
           for i in range(5)]
    assert all(v > 0 for v in sep + inv)
    torch.testing.assert_close(L.separation(z, t, r, w), (2 * sep[0] + sum(sep[1:])) / 5)
    torch.testing.assert_close(L.separation(z, t, r), sum(sep) / 5)
    torch.testing.assert_close(L.inverse_infonce(z, t, labels, e['protos'], e['proto_labels'], 0.1, w),
                               (2 * inv[0] + sum(inv[1:])) / 5)
    # spread: the norm part is per object (one object alone has no spread part); the spread part
    # takes the mean weight
    norm = [L.spread_preservation(z[i:i + 1], t[i:i + 1]) for i in range(5)]
    spread_part = L.spread_preservation(z, t) - sum(norm) / 5
    assert spread_part > 0
    torch.testing.assert_close(L.spread_preservation(z, t, w),
                               (2 * norm[0] + sum(norm[1:])) / 5 + w.mean() * spread_part)
    # feature consistency: a sample's squared error counts twice; the normaliser is unweighted
    s, tf = z.reshape(5, 2, 2), t.reshape(5, 2, 2)
    error = (s - tf).square().sum((1, 2))
    expected = (2 * error[0] + error[1:].sum()) / s.numel() / (tf.square().mean() + L.EPS)
    torch.testing.assert_close(L.feature_consistency(s, tf, w), expected)


# ========================================================================= CCU with support
ALL_ON = dict(w_camera_forget=1.0, w_retain_features=1.0)  # the two terms off by default
WEIGHTED = ('loss_unlearn', 'loss_spread', 'loss_camera_forget', 'loss_separation', 'loss_forget_fusion')
UNWEIGHTED = ('retain_loss_heatmap', 'loss_retain_features', 'loss_retain_structure', 'loss_radar_embedding',
              'loss_radar_bev', 'loss_radar_detection')


def tagged(model, datasets, prefix, scene_of=lambda i: f'scene-{i}'):
    """A whole batch of ``datasets`` whose samples have tokens ``prefix<i>`` and scene names."""
    batch = whole_batch(model, datasets)
    for i, ds in enumerate(batch['data_samples']):
        ds.set_metainfo(dict(token=f'{prefix}{i}', scene_name=scene_of(i)))
    return batch


def split(batch, size):
    """A whole batch as batches of ``size`` samples (as the hook hands them to the pre-pass)."""
    n = len(batch['data_samples'])
    return [dict(inputs={k: v[i:i + size] for k, v in batch['inputs'].items()},
                 data_samples=batch['data_samples'][i:i + size]) for i in range(0, n, size)]


@pytest.fixture
def models(original_model):
    """(student, teacher): the teacher is the original; the student's camera branch moved, so
    that the retain, spread and separation terms are not all 0."""
    teacher = snapshot_teacher(original_model)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in original_model.camera_encoder.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    return original_model, teacher


@pytest.fixture
def data(original_model, toy_sets):
    """retain (12 samples, 6 scenes of 2) and forget (6 samples) batches with tokens."""
    return dict(retain=tagged(original_model, [toy_sets['retain']], 'retain-', lambda i: f'retain-scene-{i // 2}'),
                forget=tagged(original_model, [toy_sets['forget']], 'forget-'))


def prepassed(models, data, **kwargs):
    objective = CCU(PCR, **{'support_quantile': 0.5, **ALL_ON, **kwargs})
    objective.prepass(*models, split(data['forget'], 4), split(data['retain'], 5))
    return objective


def test_ccu_without_support_quantile_has_no_prepass_and_the_same_losses(models, original_model, toy_sets):
    # plain batches (no tokens): the unweighted CCU does not need them
    retain = whole_batch(original_model, [toy_sets['retain']])
    forget = whole_batch(original_model, [toy_sets['forget']])
    default, explicit = CCU(PCR, **ALL_ON), CCU(PCR, support_quantile=None, **ALL_ON)
    for objective in (default, explicit):
        assert not objective.has_prepass and not objective.prepass_reads_retain
        objective.prepass(*models, [forget], [retain])  # a no-op
        assert objective.forget_keys.numel() == 0 and objective.forget_weights.numel() == 0
        assert objective.sample_weights(forget['data_samples']) is None
    a, b = default.loss(*models, retain, forget), explicit.loss(*models, retain, forget)
    assert set(a) == set(b) and 'ccu_forget_weight' not in a
    assert set(WEIGHTED) | set(UNWEIGHTED) <= set(a)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)


def test_bad_support_arguments_are_refused(models, data):
    for bad in (1.0, -0.5):
        with pytest.raises(ValueError, match='support_quantile'):
            CCU(PCR, support_quantile=bad)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match='min_forget_weight'):
            CCU(PCR, support_quantile=0.5, min_forget_weight=bad)
    with pytest.raises(ValueError, match='retain batches'):
        CCU(PCR, support_quantile=0.5).prepass(*models, [data['forget']])
    with pytest.raises(ValueError, match='forget set is empty'):
        CCU(PCR, support_quantile=0.5).prepass(*models, [], [data['retain']])


def test_prepass_stores_one_key_and_one_weight_per_forget_sample(models, data):
    objective = prepassed(models, data, min_forget_weight=0.25)
    assert objective.has_prepass and objective.prepass_reads_retain
    tokens = [ds.metainfo['token'] for ds in data['forget']['data_samples']]
    assert objective.forget_keys.dtype == torch.long
    assert objective.forget_keys.tolist() == [S.token_key(t) for t in tokens]
    weights = objective.forget_weights
    assert weights.shape == (6,) and weights.dtype == torch.float32
    assert ((weights >= 0.25) & (weights <= 1.0)).all()
    torch.testing.assert_close(objective.sample_weights(data['forget']['data_samples'][::-1]), weights.flip(0))
    # how the samples are batched does not matter (sample indices and scenes across batches)
    whole = CCU(PCR, support_quantile=0.5, min_forget_weight=0.25)
    whole.prepass(*models, [data['forget']], [data['retain']])
    assert whole.forget_keys.tolist() == objective.forget_keys.tolist()
    torch.testing.assert_close(whole.forget_weights, weights)
    # w = m + (1 - m) u
    unscaled = prepassed(models, data, min_forget_weight=0.0).forget_weights
    torch.testing.assert_close(weights, 0.25 + 0.75 * unscaled)
    # the teacher's embeddings decide: the student's moved camera branch is not read
    student, teacher = models
    other = CCU(PCR, support_quantile=0.5, min_forget_weight=0.25)
    other.prepass(teacher, teacher, [data['forget']], [data['retain']])
    torch.testing.assert_close(other.forget_weights, weights)


def test_prepass_weighs_a_look_the_retain_set_has_below_one_it_lacks(original_model, toy_sets):
    # forget: 3 samples of location 0 (a look no retain sample has), 3 of location 1 (retain's)
    teacher = snapshot_teacher(original_model)
    forget = tagged(original_model, [ToyBEVDataset(locations=(0,), num_samples=3, seed=1),
                                     ToyBEVDataset(locations=(1,), num_samples=3, seed=7)], 'mixed-')
    # the look of an image is its feature statistics: enough retain samples of location 1 to show it
    many = ToyBEVDataset(locations=(1, 2), num_samples=48, seed=2)
    retain = tagged(original_model, [many], 'retain-', lambda i: f'retain-scene-{i // 2}')
    objective = CCU(PCR, support_quantile=0.5)
    objective.prepass(original_model, teacher, [forget], [retain])
    weights = objective.forget_weights
    assert weights[:3].mean() > weights[3:].mean() + 0.4, weights


def test_weights_of_one_give_the_unweighted_terms(models, data):
    objective = prepassed(models, data)
    objective.forget_weights.fill_(1.0)
    weighted = objective.loss(*models, data['retain'], data['forget'])
    plain = CCU(PCR, **ALL_ON).loss(*models, data['retain'], data['forget'])
    assert set(weighted) == set(plain) | {'ccu_forget_weight'}
    assert weighted['ccu_forget_weight'].item() == 1.0
    for name in set(plain):
        torch.testing.assert_close(weighted[name], plain[name], rtol=0, atol=0, msg=name)
    for name in ('loss_unlearn', 'loss_spread', 'loss_separation', 'loss_forget_fusion'):
        assert plain[name] > 0, name  # the comparison is of something


def test_weights_of_one_give_the_unweighted_camera_forget_term_and_gradient(models, data):
    # the tiny detector's head takes a mean over the batch (the real one a sum): either way
    objective = prepassed(models, data)
    objective.forget_weights.fill_(1.0)
    weighted = objective.loss(*models, data['retain'], data['forget'])['loss_camera_forget']
    plain = CCU(PCR, **ALL_ON).loss(*models, data['retain'], data['forget'])['loss_camera_forget']
    torch.testing.assert_close(weighted, plain)
    params = [p for p in models[0].parameters() if p.requires_grad]
    for a, b in zip(torch.autograd.grad(weighted, params, allow_unused=True),
                    torch.autograd.grad(plain, params, allow_unused=True)):
        if a is not None or b is not None:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_weights_of_zero_switch_the_forget_side_terms_off(models, data):
    objective = prepassed(models, data, min_forget_weight=0.0)
    objective.forget_weights.zero_()
    weighted = objective.loss(*models, data['retain'], data['forget'])
    plain = CCU(PCR, **ALL_ON).loss(*models, data['retain'], data['forget'])
    assert weighted['ccu_forget_weight'].item() == 0.0
    for name in WEIGHTED:
        assert plain[name] > 0, name
        assert weighted[name].item() == 0.0, name
    student = models[0]
    grads = torch.autograd.grad(sum(weighted[n] for n in WEIGHTED), list(student.parameters()), allow_unused=True)
    assert all(g is None or not g.any() for g in grads)
    for name in UNWEIGHTED:
        torch.testing.assert_close(weighted[name], plain[name], rtol=0, atol=0, msg=name)


def test_each_forget_object_takes_its_own_sample_s_weight(models, data, original_model, toy_sets):
    # a weight on forget sample 2 alone: separation (a mean over the forget objects against the
    # retain objects) is that sample's separation times its share of the objects
    objective = prepassed(models, data, w_camera_forget=0.0)
    objective.forget_weights.zero_()
    objective.forget_weights[2] = 0.5
    weighted = objective.loss(*models, data['retain'], data['forget'])
    alone = dict(inputs={k: v[2:3] for k, v in data['forget']['inputs'].items()},
                 data_samples=data['forget']['data_samples'][2:3])
    plain_alone = CCU(PCR).loss(*models, data['retain'], alone)
    share = plain_alone['ccu_forget_objects'] / weighted['ccu_forget_objects']
    assert plain_alone['loss_separation'] > 0
    torch.testing.assert_close(weighted['loss_separation'], 0.5 * share * plain_alone['loss_separation'])
    assert weighted['ccu_forget_weight'].item() == pytest.approx(0.5 / 6)


def test_a_fresh_ccu_loads_the_prepass_from_a_state_dict(models, data):
    objective = prepassed(models, data, min_forget_weight=0.1)
    fresh = CCU(PCR, support_quantile=0.5, **ALL_ON)
    assert fresh.forget_keys.numel() == 0
    fresh.load_state_dict(objective.state_dict(), strict=True)
    assert torch.equal(fresh.forget_keys, objective.forget_keys)
    samples = data['forget']['data_samples']
    torch.testing.assert_close(fresh.sample_weights(samples), objective.sample_weights(samples), rtol=0, atol=0)
    a = fresh.loss(*models, data['retain'], data['forget'])
    b = objective.loss(*models, data['retain'], data['forget'])
    for name in b:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)
    # inside an UnlearningModel (the buffers under a prefix), as a resumed run loads them
    cfg = dict(type='CCU', point_cloud_range=PCR, support_quantile=0.5)
    trained, resumed = (UnlearningModel(detector=TinyCamRadar(), objective=cfg) for _ in range(2))
    trained.objective.load_state_dict(objective.state_dict())
    resumed.load_state_dict(trained.state_dict(), strict=True)
    torch.testing.assert_close(resumed.objective.sample_weights(samples), objective.sample_weights(samples))


def test_a_sample_the_prepass_did_not_see_is_a_key_error(models, data):
    objective = prepassed(models, data)
    unseen = data['forget']['data_samples'][0].clone()
    unseen.set_metainfo(dict(token='forget-unseen'))
    with pytest.raises(KeyError, match='forget-unseen'):
        objective.sample_weights([data['forget']['data_samples'][1], unseen])
    forget = dict(inputs=data['forget']['inputs'], data_samples=[unseen] + data['forget']['data_samples'][1:])
    with pytest.raises(KeyError, match='forget-unseen'):
        objective.loss(*models, data['retain'], forget)
    # before any pre-pass nothing is known
    with pytest.raises(KeyError, match='forget-0'):
        CCU(PCR, support_quantile=0.5).loss(*models, data['retain'], data['forget'])


def test_image_feats_refuses_a_model_without_the_optional_member():
    from ccu_av.models.interface import image_feats

    class NoImages:
        pass

    with pytest.raises(TypeError, match='extract_image_feats'):
        image_feats(NoImages(), {}, [])
