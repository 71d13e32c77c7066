"""The CCU loss terms: values on hand-computable cases, gradient directions, no collapse."""
import math

import pytest
import torch
import torch.nn.functional as F

from ccu_av.unlearning import losses as L


def sgd_step(loss_fn, x, lr=0.1):
    """One plain gradient step on a leaf copy of ``x``; returns the new tensor."""
    x = x.clone().requires_grad_(True)
    loss_fn(x).backward()
    return (x - lr * x.grad).detach()


def mean_cos(a, b):
    return F.cosine_similarity(a, b, dim=1).mean().item()


@pytest.fixture
def forget_case():
    """Six forget objects of two classes near their teacher embeddings, and the prototypes."""
    g = torch.Generator().manual_seed(0)
    t = 0.25 * torch.randn(6, 16, generator=g)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    t[:3] += 0.5  # give the classes a structure
    z = t + 0.02 * torch.randn(6, 16, generator=g)
    protos, proto_labels = L.class_prototypes(t, labels)
    return z, t, labels, protos, proto_labels


def test_class_prototypes_are_normalised_means_of_normalised_embeddings():
    protos, labels = L.class_prototypes(torch.tensor([[2.0, 0.0], [0.0, 3.0], [0.0, -1.0]]),
                                        torch.tensor([4, 4, 1]))
    assert labels.tolist() == [1, 4]
    s = 1 / math.sqrt(2)
    assert torch.allclose(protos, torch.tensor([[0.0, -1.0], [s, s]]))


def test_inverse_infonce_value_by_hand():
    z = t = torch.tensor([[1.0, 0.0]])
    protos, proto_labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])
    tau = 0.5
    # keys: t (cos 1), own prototype (cos 1): positives; class 1's prototype (cos 0): negative.
    # -log(1 - pi) = log(2 e^2 + 1) - log(1), floored at chance -log(1 - 2/3) = log 3
    expected = tau * (math.log(2 * math.exp(2) + 1) - math.log(3))
    got = L.inverse_infonce(z, t, torch.tensor([0]), protos, proto_labels, tau)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # a single class leaves nothing to contrast with
    assert L.inverse_infonce(z, t, torch.tensor([0]), protos[:1], proto_labels[:1], tau).item() == 0.0


def test_inverse_infonce_step_moves_forget_embeddings_away_from_teacher(forget_case):
    z, t, labels, protos, proto_labels = forget_case
    z_new = sgd_step(lambda x: L.inverse_infonce(x, t, labels, protos, proto_labels), z, lr=2.0)
    assert mean_cos(z_new, t) < mean_cos(z, t) - 1e-3
    # and away from their own class prototype
    own = protos[labels]
    assert mean_cos(z_new, own) < mean_cos(z, own)


def test_inverse_infonce_is_bounded_and_stops_at_chance(forget_case):
    z, t, labels, protos, proto_labels = forget_case
    tau = 0.1
    upper = tau * (math.log1p(2 * math.exp(2 / tau)) - math.log(3))  # cosines +-1; 2 of 3 keys positive
    at_start = L.inverse_infonce(t, t, labels, protos, proto_labels, tau)
    assert 0 < at_start.item() <= upper
    assert L.inverse_infonce(1e6 * t, t, labels, protos, proto_labels, tau).item() <= upper + 1e-6
    # an object that now looks like the other class is past chance: no loss and no push
    swapped = protos[1 - labels].clone().requires_grad_(True)
    loss = L.inverse_infonce(swapped, t, labels, protos, proto_labels, tau)
    loss.backward()
    assert loss.item() == 0.0 and swapped.grad.abs().max() == 0.0


def test_spread_preservation_values_by_hand():
    t = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.0, 1.0]])
    assert L.spread_preservation(t, t).item() == pytest.approx(0.0, abs=1e-6)
    # shrunk by 10: norm term (log 0.1)^2, spread term relu(1 - 0.1) on each channel
    assert L.spread_preservation(0.1 * t, t).item() == pytest.approx(math.log(0.1) ** 2 + 0.9, rel=1e-4)


def test_spread_preservation_step_undoes_a_collapse():
    g = torch.Generator().manual_seed(1)
    t = torch.randn(8, 4, generator=g)
    collapsed = t.mean(0, keepdim=True) + 0.01 * torch.randn(8, 4, generator=g)
    assert L.spread_preservation(collapsed, t).item() > 0.5
    z_new = sgd_step(lambda x: L.spread_preservation(x, t), collapsed, lr=0.5)
    assert (z_new.std(0) > collapsed.std(0)).all()


def test_unlearning_with_spread_forgets_without_collapsing(forget_case):
    """200 steps of (a): the original semantics fall to chance and the teacher similarity with
    them; the spread term keeps the set's spread and norms."""
    z, t, labels, protos, proto_labels = forget_case

    def run(w_spread):
        x = z.clone()
        for _ in range(200):
            x = sgd_step(lambda v: L.inverse_infonce(v, t, labels, protos, proto_labels)
                         + w_spread * L.spread_preservation(v, t), x, lr=0.5)
        return x

    with_spread, without = run(1.0), run(0.0)
    start = L.inverse_infonce(z, t, labels, protos, proto_labels).item()
    assert L.inverse_infonce(with_spread, t, labels, protos, proto_labels).item() < 0.05 * start
    assert mean_cos(with_spread, t) < 0.8 * mean_cos(z, t)
    std_ratio = (with_spread.std(0) / t.std(0)).mean().item()
    assert std_ratio > 0.9
    assert std_ratio > (without.std(0) / t.std(0)).mean().item() + 0.1
    norm_ratio = with_spread.norm(dim=1) / t.norm(dim=1)
    assert ((norm_ratio > 0.8) & (norm_ratio < 1.25)).all()


def test_embedding_consistency_value_and_pull_back():
    assert L.embedding_consistency(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])).item() == \
        pytest.approx(1.0)
    g = torch.Generator().manual_seed(2)
    t = torch.randn(5, 8, generator=g)
    perturbed = t + 0.8 * torch.randn(5, 8, generator=g)
    assert L.embedding_consistency(t, t).item() == pytest.approx(0.0, abs=1e-6)
    pulled = sgd_step(lambda x: L.embedding_consistency(x, t), perturbed, lr=1.0)
    assert mean_cos(pulled, t) > mean_cos(perturbed, t)


def test_feature_consistency_value_and_pull_back():
    t = torch.full((1, 2, 3, 3), 2.0)
    assert L.feature_consistency(t + 1, t).item() == pytest.approx(0.25, rel=1e-5)
    perturbed = t + torch.randn(1, 2, 3, 3)
    pulled = sgd_step(lambda x: L.feature_consistency(x, t), perturbed, lr=1.0)
    assert (pulled - t).abs().sum() < (perturbed - t).abs().sum()


def test_anchored_supcon_value_by_hand_and_zero_at_teacher():
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1])
    assert L.anchored_supcon(t, labels, t).item() == 0.0
    # object 0 moved onto class 1: l_0 rises from log(1 + e^(-1/tau)) to log(1 + e^(1/tau)),
    # a difference of exactly 1/tau; object 1 is unchanged
    z = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    assert L.anchored_supcon(z, labels, t, temperature=0.5).item() == pytest.approx(0.5 * 2.0, rel=1e-5)


def test_anchored_supcon_step_pulls_a_drifted_retain_object_back_to_its_class():
    g = torch.Generator().manual_seed(3)
    t = 0.25 * torch.randn(6, 8, generator=g)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    t[:3] += 0.5
    z = t.clone()
    z[0] = 0.5 * (t[0] + t[4])  # object 0 drifted half-way into class 1
    loss = L.anchored_supcon(z, labels, t)
    z_new = sgd_step(lambda x: L.anchored_supcon(x, labels, t), z, lr=0.2)
    assert L.anchored_supcon(z_new, labels, t) < loss
    own = F.normalize(t[:3], dim=1).mean(0, keepdim=True)
    other = F.normalize(t[3:], dim=1).mean(0, keepdim=True)
    assert mean_cos(z_new[:1], own) > mean_cos(z[:1], own)
    assert mean_cos(z_new[:1], other) < mean_cos(z[:1], other)


def test_separation_value_by_hand_and_push_away_from_retain():
    t_f, t_r = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert L.separation(torch.tensor([[1.0, 1.0]]), t_f, t_r).item() == pytest.approx(1 / math.sqrt(2))
    assert L.separation(torch.tensor([[1.0, -1.0]]), t_f, t_r).item() == 0.0
    z = torch.tensor([[1.0, 1.0]])
    z_new = sgd_step(lambda x: L.separation(x, t_f, t_r), z, lr=0.5)
    assert mean_cos(z_new, t_r) < mean_cos(z, t_r)


@pytest.mark.parametrize('term', ['unlearn', 'spread', 'embedding', 'supcon', 'separation'])
def test_terms_on_no_objects_are_zero_and_keep_the_graph(term):
    z = torch.zeros(0, 4, requires_grad=True)
    t = torch.zeros(0, 4)
    labels = torch.zeros(0, dtype=torch.long)
    loss = dict(unlearn=lambda: L.inverse_infonce(z, t, labels, *L.class_prototypes(t, labels)),
                spread=lambda: L.spread_preservation(z, t),
                embedding=lambda: L.embedding_consistency(z, t),
                supcon=lambda: L.anchored_supcon(z, labels, t),
                separation=lambda: L.separation(z, t, torch.randn(3, 4)))[term]()
    assert loss.item() == 0.0 and loss.requires_grad
