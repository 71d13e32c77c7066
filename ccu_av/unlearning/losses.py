"""The CCU loss terms, one pure function per term (equations in ``docs/method.md``).

All embeddings are per-object vectors (K, C) pooled from BEV features (:mod:`.embeddings`);
similarities are cosines. ``s`` is the student (being unlearned), ``t`` the frozen teacher (the
original model). Each function returns a scalar that is 0 when the student equals the teacher
(except :func:`inverse_infonce`, which is 0 once the original semantics are down to chance),
and ``embeddings.sum() * 0`` when it has no objects to work on, so that the graph stays connected.

None of these terms exists in mmdet3d or mmengine; they are written here.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

EPS = 1e-6


def _cosine_matrix(a: Tensor, b: Tensor) -> Tensor:
    """(K, M) cosine similarities of the rows of ``a`` (K, C) and ``b`` (M, C)."""
    return F.normalize(a, dim=1, eps=EPS) @ F.normalize(b, dim=1, eps=EPS).T


def _empty(*tensors: Tensor) -> Tensor:
    """A zero that keeps the autograd graph of ``tensors`` connected."""
    return sum(t.sum() for t in tensors) * 0


def class_prototypes(embeddings: Tensor, labels: Tensor) -> Tuple[Tensor, Tensor]:
    """Unit-norm mean of the unit-normalised embeddings of each class present.

    Returns:
        ``(prototypes (P, C), proto_labels (P,))``, classes in ascending label order.
    """
    proto_labels = torch.unique(labels)
    onehot = (labels[None, :] == proto_labels[:, None]).to(embeddings.dtype)  # (P, K)
    means = onehot @ F.normalize(embeddings, dim=1, eps=EPS) / onehot.sum(1, keepdim=True)
    return F.normalize(means, dim=1, eps=EPS), proto_labels


def inverse_infonce(z: Tensor, t: Tensor, labels: Tensor, prototypes: Tensor, proto_labels: Tensor,
                    temperature: float = 0.1, weights: Optional[Tensor] = None) -> Tensor:
    """(a) Selective visual unlearning: inverse InfoNCE of forget objects' camera embeddings,
    floored at chance.

    Each forget object ``i`` is scored against keys: its own teacher embedding ``t_i`` and the
    teacher's class prototypes. Its positives are its original semantics (``t_i`` and its own
    class prototype), its negatives the other classes' prototypes; ``pi_i`` is the InfoNCE
    probability of the positives (softmax of ``cos / tau`` over the keys). InfoNCE minimises
    ``-log pi_i``; the inverse minimises ``-log(1 - pi_i) = softplus(LSE_pos - LSE_neg)``, whose
    gradient is large while ``pi_i ~ 1`` (where ``log pi_i`` would saturate), down to the chance
    level ``pi0_i = |positives| / |keys|``:
    ``tau * mean_i relu(softplus(LSE_pos - LSE_neg) + log(1 - pi0_i))``. It is bounded (cosines
    are) and stops once the original semantics are no more likely than chance, instead of pushing
    objects into another class (over-forgetting). Objects with no other class among the keys
    contribute 0.

    Args:
        z: (K, C) student camera embeddings of forget objects.
        t: (K, C) teacher camera embeddings of the same objects.
        labels: (K,) their class labels.
        prototypes, proto_labels: (P, C) teacher class prototypes and their labels
            (:func:`class_prototypes`).
        temperature: softmax temperature ``tau``.
        weights: (K,) optional weight of each object's term (the mean stays over the objects).
    """
    K, P = z.shape[0], prototypes.shape[0]
    positive = torch.cat([torch.ones(K, 1, dtype=torch.bool, device=z.device),
                          labels[:, None] == proto_labels[None, :]], dim=1)  # (K, 1+P)
    has_negative = (~positive).any(1)
    if not has_negative.any():
        return _empty(z)
    s_inst = F.cosine_similarity(z, t, dim=1, eps=EPS)[:, None]  # (K, 1)
    logits = torch.cat([s_inst, _cosine_matrix(z, prototypes)], dim=1) / temperature  # (K, 1+P)
    lse_pos = torch.logsumexp(logits.masked_fill(~positive, float('-inf')), 1)
    lse_neg = torch.logsumexp(logits.masked_fill(positive, float('-inf')), 1)
    log_neg_share = torch.log((~positive).sum(1).to(z.dtype) / (1 + P))  # log(1 - pi0)
    per_object = _weighted(F.relu(F.softplus(lse_pos - lse_neg) + log_neg_share), weights)
    return temperature * per_object[has_negative].mean()


def spread_preservation(z: Tensor, t: Tensor, weights: Optional[Tensor] = None) -> Tensor:
    """(a') No collapse: keep each embedding's norm and the set's per-channel spread.

    ``mean_i (log|z_i| - log|t_i|)^2 + mean_c relu(1 - std_c(z) / std_c(t))``; the spread part
    needs at least two objects. 0 when ``z == t``; positive when the embeddings shrink or
    collapse towards a constant. ``weights`` (K,): optional per-object weights of the norm part
    (the spread part, a property of the set, takes their mean).
    """
    if z.shape[0] == 0:
        return _empty(z)
    norm_term = _weighted((torch.log(z.norm(dim=1) + EPS) - torch.log(t.norm(dim=1) + EPS)).square(),
                          weights).mean()
    if z.shape[0] < 2:
        return norm_term
    spread_term = F.relu(1 - z.std(dim=0) / (t.std(dim=0) + EPS)).mean()
    return norm_term + (spread_term if weights is None else weights.mean() * spread_term)


def embedding_consistency(s: Tensor, t: Tensor) -> Tensor:
    """(b) Radar object embeddings agree with the teacher's: ``mean_i (1 - cos(s_i, t_i))``."""
    if s.shape[0] == 0:
        return _empty(s)
    return (1 - F.cosine_similarity(s, t, dim=1, eps=EPS)).mean()


def feature_consistency(s: Tensor, t: Tensor, weights: Optional[Tensor] = None) -> Tensor:
    """(b) Radar-only BEV features the head reads agree with the teacher's.

    ``mean((s - t)^2) / (mean(t^2) + eps)``: a relative squared error, so its scale does not
    depend on the feature magnitude. ``weights`` (B,): optional weight of each sample's error
    (the first dimension of ``s`` and ``t``).
    """
    error = (s - t).square()
    if weights is not None:
        error = error * weights.reshape(-1, *([1] * (error.dim() - 1)))
    return error.mean() / (t.square().mean() + EPS)


def _weighted(per_item: Tensor, weights: Optional[Tensor]) -> Tensor:
    return per_item if weights is None else per_item * weights


def anchored_supcon(z: Tensor, labels: Tensor, t: Tensor, temperature: float = 0.1) -> Tensor:
    """(c) Retain objects keep their class structure: supervised contrastive loss anchored on
    the teacher, penalising only a loss of structure.

    Keys are the teacher's retain embeddings ``t_k`` of the batch; the positives of object ``j``
    are the keys of its class (``t_j`` included). With
    ``l_j(x) = -mean_{p in P(j)} log softmax_k(cos(x, t_k) / tau)[p]`` the term is
    ``mean_j relu(l_j(z_j) - l_j(t_j))``: 0 while each student embedding is as well placed among
    the teacher's classes as its teacher embedding, positive once it drifts out of its class.
    """
    if z.shape[0] == 0:
        return _empty(z)
    positive = (labels[:, None] == labels[None, :]).to(z.dtype)  # (K, K)

    def per_object(x: Tensor) -> Tensor:
        log_prob = torch.log_softmax(_cosine_matrix(x, t) / temperature, dim=1)  # (K, K)
        return -(log_prob * positive).sum(1) / positive.sum(1)

    return F.relu(per_object(z) - per_object(t).detach()).mean()


def separation(z_forget: Tensor, t_forget: Tensor, t_retain: Tensor,
               weights: Optional[Tensor] = None) -> Tensor:
    """(c) The forget perturbation stays away from the retain set.

    ``mean_{i, j} relu(cos(z_i, r_j) - cos(t_i, r_j))`` over forget objects ``i`` and the
    teacher's retain embeddings ``r_j``: forget objects may not become more similar to any retain
    object than they originally were. ``weights`` (K,): optional weight of each forget object.
    """
    if z_forget.shape[0] == 0 or t_retain.shape[0] == 0:
        return _empty(z_forget)
    before = _cosine_matrix(t_forget, t_retain)
    after = _cosine_matrix(z_forget, t_retain)
    return _weighted(F.relu(after - before).mean(1), weights).mean()
