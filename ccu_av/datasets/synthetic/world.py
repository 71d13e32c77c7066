"""The simulated world of one scene: a straight road, the ego vehicle, objects and buildings.

Everything moves analytically (the ego with constant acceleration, objects with constant
velocity), so any sensor can sample the world at its own timestamp and the annotations'
finite-difference velocities (``NuScenes.box_velocity``) are exact.
Coordinates: a road frame (s along the road, d to its left) placed in the global frame;
letters K objects, P parts.
"""
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from .geometry import yaw_matrix
from .taxonomy import OBJECT_CLASSES, ROLE_INDEX

ROAD_HALF_WIDTH = 7.0
SIDEWALK_OUTER = 11.0
BUILDING_INNER = 16.0
LANES = (-5.25, -1.75, 1.75, 5.25)
EGO_LANE = -1.75
EGO_LENGTH, EGO_WIDTH, EGO_REAR_OVERHANG = 4.8, 2.0, 1.0
# parts fill the annotation box up to this factor: boxes are annotated a little loose, as in nuScenes
_GEOMETRY_FILL = np.array([0.97, 0.97, 0.98])
# a cycle without rider is this much lower than one with a rider
_NO_RIDER_HEIGHT = 0.7


@dataclass
class SceneObject:
    """One annotated object; ``s, d`` at scene time 0 and a constant road-frame velocity."""
    label: int
    size: np.ndarray  # (length, width, height)
    s: float
    d: float
    heading: float  # yaw relative to the road direction
    v_s: float
    v_d: float
    attribute: Optional[str]
    variant: int  # which of its location's colours
    rcs_offset: float  # per-instance radar cross-section offset, dB
    parts: np.ndarray  # (n, 6): centre x, y, z and length, width, height in the object frame, metres
    roles: np.ndarray  # (n,) role index


@dataclass
class Buildings:
    """Static, unannotated boxes beside the road (road frame)."""
    s: np.ndarray
    d: np.ndarray
    size: np.ndarray  # (B, 3)
    variant: np.ndarray  # (B,)


class SceneWorld:
    """The world of one scene, sampled at any time ``t`` (seconds from the first key frame)."""

    def __init__(self, origin: np.ndarray, road_yaw: float, ego_v0: float, ego_acc: float,
                 objects: List[SceneObject], buildings: Buildings):
        self.origin = np.asarray(origin, float)
        self.road_yaw = float(road_yaw)
        self.ego_v0, self.ego_acc = ego_v0, ego_acc
        self.objects = objects
        self.buildings = buildings
        self._road_rot = yaw_matrix(self.road_yaw)[:2, :2]
        self._part_table()

    # ---- road frame ----
    def road_to_global(self, s: np.ndarray, d: np.ndarray) -> np.ndarray:
        """(..., 2) global xy of road coordinates."""
        return self.origin + np.stack([s, d], axis=-1) @ self._road_rot.T

    def global_to_road(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) road (s, d) of global xy."""
        return (xy - self.origin) @ self._road_rot

    # ---- ego ----
    def ego_s(self, t: float) -> float:
        return self.ego_v0 * t + 0.5 * self.ego_acc * t * t

    def ego_pose(self, t: float) -> np.ndarray:
        """4x4 ego-to-global transform at time t (flat ground, z = 0 as nuScenes)."""
        pose = np.eye(4)
        pose[:3, :3] = yaw_matrix(self.road_yaw)
        pose[:2, 3] = self.road_to_global(np.array(self.ego_s(t)), np.array(EGO_LANE))
        return pose

    def ego_velocity(self, t: float) -> np.ndarray:
        """(3,) global ego velocity."""
        v = self.ego_v0 + self.ego_acc * t
        return np.array([v * np.cos(self.road_yaw), v * np.sin(self.road_yaw), 0.0])

    # ---- objects ----
    def boxes(self, t: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Annotation boxes at time t: centres (K, 3), yaws (K,), sizes (K, 3) as (l, w, h), velocities (K, 3)."""
        if not self.objects:
            return np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3))
        s = np.array([o.s + o.v_s * t for o in self.objects])
        d = np.array([o.d + o.v_d * t for o in self.objects])
        sizes = np.stack([o.size for o in self.objects])
        centers = np.concatenate([self.road_to_global(s, d), sizes[:, 2:3] / 2], axis=1)
        yaws = self.road_yaw + np.array([o.heading for o in self.objects])
        v_road = np.array([[o.v_s, o.v_d] for o in self.objects])
        velocities = np.concatenate([v_road @ self._road_rot.T, np.zeros((len(s), 1))], axis=1)
        return centers, yaws, sizes, velocities

    def _part_table(self):
        """Flatten the parts of all objects and buildings once; ``parts`` moves them to a time."""
        owners, local, roles = [], [], []
        for k, obj in enumerate(self.objects):
            owners.append(np.full(len(obj.parts), k))
            local.append(obj.parts)
            roles.append(obj.roles)
        self._owner = np.concatenate(owners) if owners else np.zeros(0, int)
        self._local = np.concatenate(local) if local else np.zeros((0, 6))
        self._roles = np.concatenate(roles) if roles else np.zeros(0, int)
        b = self.buildings
        xy = self.road_to_global(b.s, b.d)
        self._building_centers = np.concatenate([xy, b.size[:, 2:3] / 2], axis=1)
        self._building_half = b.size / 2

    def parts(self, t: float) -> dict:
        """Every part and building at time t.

        Returns:
            dict with centers (P, 3), yaws (P,), half (P, 3), owner (P,) object index or -1 for
            buildings, role (P,) role index, variant (P,) colour variant.
        """
        centers, yaws, _, _ = self.boxes(t)
        owner = self._owner
        loc = self._local
        obj_yaw = yaws[owner] if len(owner) else np.zeros(0)
        cos, sin = np.cos(obj_yaw), np.sin(obj_yaw)
        part_centers = np.stack([
            centers[owner, 0] + cos * loc[:, 0] - sin * loc[:, 1],
            centers[owner, 1] + sin * loc[:, 0] + cos * loc[:, 1],
            loc[:, 2]], axis=1) if len(owner) else np.zeros((0, 3))
        nb = len(self.buildings.s)
        variants = np.array([o.variant for o in self.objects], int)
        return dict(
            centers=np.concatenate([part_centers, self._building_centers]),
            yaws=np.concatenate([obj_yaw, np.full(nb, self.road_yaw)]),
            half=np.concatenate([loc[:, 3:6] / 2, self._building_half]),
            owner=np.concatenate([owner, np.full(nb, -1)]).astype(int),
            role=np.concatenate([self._roles, np.full(nb, ROLE_INDEX['building'])]).astype(int),
            variant=np.concatenate([variants[owner] if len(owner) else np.zeros(0, int),
                                    self.buildings.variant]).astype(int),
        )


# ---------------------------------------------------------------------------------------------
# scene sampling

def _object_parts(label: int, size: np.ndarray, rider: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Parts of one object in its own frame (centre x, y, z and length, width, height)."""
    spec = OBJECT_CLASSES[label]
    fractions = list(spec.parts) + (list(spec.rider_parts) if rider else [])
    table = np.array([p[:6] for p in fractions], float)
    if spec.rider_parts and not rider:
        table[:, 2] /= _NO_RIDER_HEIGHT
        table[:, 5] /= _NO_RIDER_HEIGHT
    geo = size * _GEOMETRY_FILL
    length, width, height = table[:, 3] * geo[0], table[:, 4] * geo[1], table[:, 5] * geo[2]
    parts = np.stack([table[:, 0] * geo[0], table[:, 1] * geo[1], table[:, 2] * geo[2] + height / 2,
                      length, width, height], axis=1)
    roles = np.array([ROLE_INDEX[p[6]] for p in fractions])
    return parts, roles


def make_object(label: int, size: np.ndarray, s: float, d: float, heading: float, v_s: float = 0.0,
                v_d: float = 0.0, attribute: Optional[str] = None, rider: bool = False, variant: int = 0,
                rcs_offset: float = 0.0) -> SceneObject:
    """An object of class ``label`` with annotation ``size`` (l, w, h), at road position (s, d) at
    time 0, with its shape built from its class's parts."""
    parts, roles = _object_parts(label, np.asarray(size, float), rider)
    return SceneObject(label, np.asarray(size, float), float(s), float(d), float(heading), float(v_s), float(v_d),
                       attribute, variant, rcs_offset, parts, roles)


def _side(rng) -> int:
    return 1 if rng.random() < 0.5 else -1


def _lane_motion(rng, speed_range) -> Tuple[float, float, float]:
    """(d, heading, speed along s) of a vehicle in a random lane; left lanes drive towards -s."""
    d = float(rng.choice(LANES))
    heading = 0.0 if d < 0 else np.pi
    speed = float(rng.uniform(*speed_range))
    return d, heading, speed if d < 0 else -speed


def _placement(name: str, size: np.ndarray, rng) -> Tuple[float, float, float, float, Optional[str], bool]:
    """How an object of a class sits on the road: (d, heading, v_s, v_d, attribute, rider)."""
    jitter = float(rng.normal(0.0, 0.03))
    if name in ('car', 'truck', 'bus', 'trailer', 'construction_vehicle'):
        p_moving = {'car': 0.5, 'truck': 0.45, 'bus': 0.5, 'trailer': 0.35, 'construction_vehicle': 0.15}[name]
        u = rng.random()
        if u < p_moving:
            d, heading, v_s = _lane_motion(rng, (1.0, 4.0) if name == 'construction_vehicle' else (3.0, 10.0))
            return d, heading + jitter, v_s, 0.0, 'vehicle.moving', False
        if u < p_moving + 0.15:
            d, heading, _ = _lane_motion(rng, (0.0, 0.0))
            return d, heading + jitter, 0.0, 0.0, 'vehicle.stopped', False
        side = _side(rng)
        if name in ('construction_vehicle', 'trailer') and rng.random() < 0.5:
            d = side * (ROAD_HALF_WIDTH + 1.0 + size[1] / 2 + rng.uniform(0.0, 2.0))  # on the verge
        else:
            d = side * (ROAD_HALF_WIDTH - size[1] / 2 - 0.25)  # at the kerb
        return d, (0.0 if side < 0 else np.pi) + jitter, 0.0, 0.0, 'vehicle.parked', False
    if name in ('motorcycle', 'bicycle'):
        if rng.random() < 0.6:
            side = _side(rng)
            d = side * (ROAD_HALF_WIDTH - 1.0)
            heading = 0.0 if side < 0 else np.pi
            speed = rng.uniform(3.0, 10.0) if name == 'motorcycle' else rng.uniform(2.0, 5.0)
            speed = speed if rng.random() < 0.8 else 0.0
            return d, heading + jitter, -side * speed, 0.0, 'cycle.with_rider', True
        d = _side(rng) * rng.uniform(ROAD_HALF_WIDTH + 0.8, SIDEWALK_OUTER - 0.8)
        return d, rng.uniform(-np.pi, np.pi), 0.0, 0.0, 'cycle.without_rider', False
    if name == 'pedestrian':
        side = _side(rng)
        if rng.random() < 0.65:
            speed = rng.uniform(0.8, 1.8)
            if rng.random() < 0.15:  # crossing the road
                return side * (ROAD_HALF_WIDTH + 0.5), -side * np.pi / 2, 0.0, -side * speed, 'pedestrian.moving', False
            direction = _side(rng)
            d = side * rng.uniform(ROAD_HALF_WIDTH + 0.6, SIDEWALK_OUTER - 0.6)
            return d, (0.0 if direction > 0 else np.pi) + jitter, direction * speed, 0.0, 'pedestrian.moving', False
        d = side * rng.uniform(ROAD_HALF_WIDTH + 0.6, SIDEWALK_OUTER - 0.6)
        return d, rng.uniform(-np.pi, np.pi), 0.0, 0.0, 'pedestrian.standing', False
    if name == 'barrier':  # its long side (the box width) along the road edge
        return _side(rng) * rng.uniform(ROAD_HALF_WIDTH - 0.6, ROAD_HALF_WIDTH + 0.3), -np.pi / 2 + jitter, \
            0.0, 0.0, None, False
    if name == 'traffic_cone':
        return _side(rng) * rng.uniform(4.0, ROAD_HALF_WIDTH + 0.5), rng.uniform(-np.pi, np.pi), 0.0, 0.0, None, False
    raise ValueError(f'no placement rule for class {name!r}')


def _obb_overlap(c1, yaw1, half1, c2, yaw2, half2) -> np.ndarray:
    """Whether 2D oriented rectangles overlap (separating-axis test), broadcast over leading dims.

    c: (..., 2) centres, yaw: (...,), half: (..., 2) half length and width.
    """
    axes1 = np.stack([np.stack([np.cos(yaw1), np.sin(yaw1)], -1), np.stack([-np.sin(yaw1), np.cos(yaw1)], -1)])
    axes2 = np.stack([np.stack([np.cos(yaw2), np.sin(yaw2)], -1), np.stack([-np.sin(yaw2), np.cos(yaw2)], -1)])
    delta = c2 - c1
    separated = np.zeros(np.broadcast(delta[..., 0], yaw1, yaw2).shape, bool)
    for axis in np.concatenate([np.broadcast_to(axes1, (2,) + separated.shape + (2,)),
                                np.broadcast_to(axes2, (2,) + separated.shape + (2,))]):
        r1 = half1[..., 0] * np.abs((axes1[0] * axis).sum(-1)) + half1[..., 1] * np.abs((axes1[1] * axis).sum(-1))
        r2 = half2[..., 0] * np.abs((axes2[0] * axis).sum(-1)) + half2[..., 1] * np.abs((axes2[1] * axis).sum(-1))
        separated |= np.abs((delta * axis).sum(-1)) > r1 + r2
    return ~separated


def _track(obj: SceneObject, times: np.ndarray) -> Tuple[np.ndarray, float, np.ndarray]:
    """Road-frame centre track (T, 2), heading and half extents (2,) with a safety margin."""
    track = np.stack([obj.s + obj.v_s * times, obj.d + obj.v_d * times], axis=1)
    return track, obj.heading, obj.size[:2] / 2 + 0.3


def sample_world(rng: np.random.Generator, origin: np.ndarray, road_yaw: float, times: np.ndarray,
                 num_objects: int) -> SceneWorld:
    """Sample one scene: ego motion, ``num_objects`` non-colliding objects, buildings.

    Args:
        rng: the scene's random generator.
        origin: (2,) global xy of the road frame origin (the ego's start, in its lane).
        road_yaw: road direction in the global frame.
        times: (T,) times the collision check looks at (covering every sensor time of the scene).
        num_objects: how many annotated objects to place.
    """
    t_min, t_max = float(times.min()), float(times.max())
    v0 = 0.0 if rng.random() < 0.1 else float(rng.uniform(3.0, 9.0))
    acc = float(rng.uniform(-0.6, 0.6)) if v0 > 0 else 0.0
    # keep the ego's speed non-negative over the whole scene
    acc = max(acc, -v0 / max(t_max, 1e-3), -v0 / max(-t_min, 1e-3) if t_min < 0 else -np.inf)
    ego_s = v0 * times + 0.5 * acc * times ** 2
    ego_track = np.stack([ego_s + EGO_LENGTH / 2 - EGO_REAR_OVERHANG, np.full_like(ego_s, EGO_LANE)], axis=1)
    ego_half = np.array([EGO_LENGTH / 2 + 0.5, EGO_WIDTH / 2 + 0.3])
    s_low, s_high = float(ego_s.min()) - 28.0, float(ego_s.max()) + 28.0
    t_mid = 0.5 * (t_min + t_max)

    weights = np.array([c.weight for c in OBJECT_CLASSES])
    accepted: List[SceneObject] = []
    tracks, headings, halves = [ego_track], [0.0], [ego_half]
    attempts = 0
    while len(accepted) < num_objects and attempts < num_objects * 30:
        attempts += 1
        label = int(rng.choice(len(OBJECT_CLASSES), p=weights / weights.sum()))
        spec = OBJECT_CLASSES[label]
        size = np.maximum(rng.normal(spec.size_mean, spec.size_std), 0.25 * np.array(spec.size_mean))
        d, heading, v_s, v_d, attribute, rider = _placement(spec.name, size, rng)
        if spec.rider_parts and not rider:
            size[2] *= _NO_RIDER_HEIGHT
        s_mid = rng.uniform(s_low, s_high)
        obj = make_object(label, size, s_mid - v_s * t_mid, d - v_d * t_min, heading, v_s, v_d, attribute, rider,
                          int(rng.integers(0, 4)), float(rng.normal(0.0, 2.5)))
        track, head, half = _track(obj, times)
        clash = _obb_overlap(np.stack(tracks), np.array(headings)[:, None], np.stack(halves)[:, None, :],
                             track[None], np.full((1, 1), head), half[None, None, :])
        if clash.any():
            continue
        accepted.append(obj)
        tracks.append(track)
        headings.append(head)
        halves.append(half)
    buildings = _sample_buildings(rng, s_low - 30.0, s_high + 30.0)
    return SceneWorld(origin, road_yaw, v0, acc, accepted, buildings)


def _sample_buildings(rng, s_low: float, s_high: float) -> Buildings:
    """Rows of buildings on both sides of the road between ``s_low`` and ``s_high``."""
    s, d, size, variant = [], [], [], []
    for side in (-1, 1):
        cursor = s_low
        while cursor < s_high:
            length = rng.uniform(8.0, 22.0)
            depth = rng.uniform(8.0, 15.0)
            inner = rng.uniform(BUILDING_INNER, BUILDING_INNER + 5.0)
            s.append(cursor + length / 2)
            d.append(side * (inner + depth / 2))
            size.append([length, depth, rng.uniform(6.0, 22.0)])
            variant.append(int(rng.integers(0, 4)))
            cursor += length + rng.uniform(1.5, 8.0)
    return Buildings(np.array(s), np.array(d), np.array(size), np.array(variant))

