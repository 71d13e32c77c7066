"""nuScenes taxonomy (categories, attributes, visibility) and the synthetic object classes.

The category, attribute and visibility names are the real nuScenes v1.0 ones, so the devkit's
detection mapping (``category_to_detection_name``) and attribute rules apply unchanged.
Each synthetic class describes its nuScenes category, plausible sizes, how it moves, its
shape as a few oriented boxes ("parts") inside the annotation box, and its radar signature.
"""
from dataclasses import dataclass
from typing import Dict, Tuple

# The 23 nuScenes v1.0 categories (name, description).
CATEGORIES = (
    ('human.pedestrian.adult', 'Adult subcategory.'),
    ('human.pedestrian.child', 'Child subcategory.'),
    ('human.pedestrian.wheelchair', 'Wheelchairs.'),
    ('human.pedestrian.stroller', 'Strollers.'),
    ('human.pedestrian.personal_mobility', 'Small electric or self-propelled vehicles.'),
    ('human.pedestrian.police_officer', 'Police officer.'),
    ('human.pedestrian.construction_worker', 'Construction worker.'),
    ('animal', 'All animals.'),
    ('vehicle.car', 'Vehicle designed primarily for personal use.'),
    ('vehicle.motorcycle', 'Gasoline or electric powered 2-wheeled vehicle.'),
    ('vehicle.bicycle', 'Human or electric powered 2-wheeled vehicle.'),
    ('vehicle.bus.bendy', 'Bendy bus subcategory.'),
    ('vehicle.bus.rigid', 'Rigid bus subcategory.'),
    ('vehicle.truck', 'Vehicles primarily designed to haul cargo.'),
    ('vehicle.construction', 'Vehicles primarily designed for construction.'),
    ('vehicle.emergency.ambulance', 'All types of ambulances.'),
    ('vehicle.emergency.police', 'All types of police vehicles.'),
    ('vehicle.trailer', 'Any vehicle trailer.'),
    ('movable_object.barrier', 'Temporary road barrier placed in the scene.'),
    ('movable_object.trafficcone', 'All types of traffic cone.'),
    ('movable_object.pushable_pullable', 'Objects that a pedestrian may push or pull.'),
    ('movable_object.debris', 'Movable object that is left on the driveable surface.'),
    ('static_object.bicycle_rack', 'Area or device intended to park or secure bicycles.'),
)

# The 8 nuScenes attributes (name, description).
ATTRIBUTES = (
    ('vehicle.moving', 'Vehicle is moving.'),
    ('vehicle.stopped', 'Vehicle, with a driver/rider in/on it, is currently stationary.'),
    ('vehicle.parked', 'Vehicle is stationary (usually for longer duration) with no immediate intent to move.'),
    ('cycle.with_rider', 'There is a rider on the bicycle or motorcycle.'),
    ('cycle.without_rider', 'There is NO rider on the bicycle or motorcycle.'),
    ('pedestrian.sitting_lying_down', 'The human is sitting or lying down.'),
    ('pedestrian.standing', 'The human is standing.'),
    ('pedestrian.moving', 'The human is moving.'),
)

# nuScenes visibility levels: token, level, description; the token is the level's rank as in nuScenes.
VISIBILITIES = (
    ('1', 'v0-40', 'visibility of whole object is between 0 and 40%'),
    ('2', 'v40-60', 'visibility of whole object is between 40 and 60%'),
    ('3', 'v60-80', 'visibility of whole object is between 60 and 80%'),
    ('4', 'v80-100', 'visibility of whole object is between 80 and 100%'),
)

# Part roles: how a part is coloured in the cameras and how it reflects the lidar.
ROLES = ('primary', 'secondary', 'window', 'dark', 'rider', 'light', 'building')
ROLE_INDEX = {name: i for i, name in enumerate(ROLES)}

# A part: centre x, centre y as fractions of (length, width) from the box centre, bottom z as a
# fraction of the height, then length, width, height as fractions, then its role.
Part = Tuple[float, float, float, float, float, float, str]


@dataclass(frozen=True)
class ObjectClass:
    """One of the 10 detection classes as the synthetic world builds it.

    Args:
        name: nuScenes detection class name.
        category: nuScenes category written into the tables.
        size_mean: mean (length, width, height) in metres (nuScenes-like).
        size_std: standard deviation of (length, width, height).
        parts: the shape, as boxes in fractions of the annotation box.
        rider_parts: extra parts drawn when a cycle carries a rider.
        weight: relative frequency in a scene.
        radar_rate: mean radar returns per radar sweep at short range (before the global scale).
        rcs_mean: mean radar cross-section in dBsm.
        lidar_intensity: mean lidar intensity of the body.
    """
    name: str
    category: str
    size_mean: Tuple[float, float, float]
    size_std: Tuple[float, float, float]
    parts: Tuple[Part, ...]
    weight: float
    radar_rate: float
    rcs_mean: float
    lidar_intensity: float
    rider_parts: Tuple[Part, ...] = ()


_CAR_PARTS = (
    (0.0, 0.0, 0.18, 1.0, 1.0, 0.42, 'primary'),
    (-0.06, 0.0, 0.60, 0.52, 0.88, 0.40, 'window'),
    (0.49, 0.0, 0.35, 0.02, 0.8, 0.12, 'light'),
) + tuple((sx * 0.32, sy * 0.42, 0.0, 0.17, 0.16, 0.30, 'dark') for sx in (-1, 1) for sy in (-1, 1))

_TRUCK_PARTS = (
    (0.37, 0.0, 0.12, 0.26, 1.0, 0.55, 'secondary'),
    (0.39, 0.0, 0.67, 0.22, 0.96, 0.25, 'window'),
    (-0.13, 0.0, 0.15, 0.74, 1.0, 0.85, 'primary'),
) + tuple((sx, sy * 0.42, 0.0, 0.1, 0.16, 0.2, 'dark') for sx in (-0.35, 0.3) for sy in (-1, 1))

_CONSTRUCTION_PARTS = (
    (-0.15, 0.0, 0.2, 0.7, 1.0, 0.35, 'primary'),
    (-0.2, 0.2, 0.55, 0.3, 0.5, 0.42, 'window'),
    (0.22, -0.1, 0.45, 0.55, 0.12, 0.1, 'secondary'),
    (0.45, -0.1, 0.05, 0.1, 0.5, 0.45, 'secondary'),
    (-0.1, 0.38, 0.0, 0.8, 0.24, 0.2, 'dark'),
    (-0.1, -0.38, 0.0, 0.8, 0.24, 0.2, 'dark'),
)

_BUS_PARTS = (
    (0.0, 0.0, 0.08, 1.0, 0.98, 0.92, 'primary'),
    (0.02, 0.0, 0.52, 0.94, 1.0, 0.28, 'window'),
    (0.495, 0.0, 0.2, 0.01, 0.9, 0.6, 'window'),
) + tuple((sx, sy * 0.43, 0.0, 0.08, 0.14, 0.14, 'dark') for sx in (-0.3, 0.33) for sy in (-1, 1))

_TRAILER_PARTS = (
    (0.02, 0.0, 0.28, 0.96, 1.0, 0.72, 'primary'),
    (0.0, 0.0, 0.12, 1.0, 0.5, 0.16, 'dark'),
    (-0.32, 0.0, 0.0, 0.22, 0.96, 0.2, 'dark'),
    (0.45, 0.0, 0.2, 0.08, 0.08, 0.1, 'secondary'),
)

_BARRIER_PARTS = (  # the long side is the box width, as nuScenes annotates barriers
    (0.0, 0.0, 0.4, 1.0, 1.0, 0.45, 'primary'),
    (0.0, 0.42, 0.0, 0.8, 0.1, 0.4, 'secondary'),
    (0.0, -0.42, 0.0, 0.8, 0.1, 0.4, 'secondary'),
    (0.0, 0.0, 0.85, 0.6, 0.9, 0.15, 'light'),
)

_MOTORCYCLE_PARTS = (
    (0.0, 0.0, 0.22, 0.62, 0.5, 0.3, 'primary'),
    (0.36, 0.0, 0.0, 0.28, 0.22, 0.36, 'dark'),
    (-0.36, 0.0, 0.0, 0.28, 0.22, 0.36, 'dark'),
    (0.3, 0.0, 0.45, 0.06, 1.0, 0.05, 'secondary'),
)
_MOTORCYCLE_RIDER = (
    (-0.08, 0.0, 0.45, 0.3, 0.7, 0.4, 'rider'),
    (-0.06, 0.0, 0.85, 0.18, 0.4, 0.15, 'secondary'),
)

_BICYCLE_PARTS = (
    (0.0, 0.0, 0.3, 0.55, 0.2, 0.12, 'primary'),
    (0.32, 0.0, 0.0, 0.36, 0.12, 0.42, 'dark'),
    (-0.32, 0.0, 0.0, 0.36, 0.12, 0.42, 'dark'),
    (0.22, 0.0, 0.5, 0.05, 0.9, 0.04, 'secondary'),
)
_BICYCLE_RIDER = (
    (-0.05, 0.0, 0.42, 0.3, 0.6, 0.45, 'rider'),
    (-0.02, 0.0, 0.87, 0.2, 0.3, 0.13, 'secondary'),
)

_PEDESTRIAN_PARTS = (
    (0.0, 0.0, 0.0, 0.4, 0.55, 0.46, 'secondary'),
    (0.0, 0.0, 0.46, 0.55, 1.0, 0.37, 'primary'),
    (0.0, 0.0, 0.84, 0.35, 0.38, 0.16, 'light'),
)

_CONE_PARTS = (
    (0.0, 0.0, 0.0, 1.0, 1.0, 0.07, 'secondary'),
    (0.0, 0.0, 0.07, 0.72, 0.72, 0.3, 'primary'),
    (0.0, 0.0, 0.37, 0.52, 0.52, 0.22, 'light'),
    (0.0, 0.0, 0.59, 0.34, 0.34, 0.41, 'primary'),
)

# The 10 detection classes in the project's label order (docs/data_format.md).
OBJECT_CLASSES = (
    ObjectClass('car', 'vehicle.car', (4.6, 1.95, 1.73), (0.35, 0.12, 0.12), _CAR_PARTS,
                weight=0.22, radar_rate=0.7, rcs_mean=6.0, lidar_intensity=40.0),
    ObjectClass('truck', 'vehicle.truck', (6.9, 2.5, 2.8), (1.2, 0.2, 0.35), _TRUCK_PARTS,
                weight=0.09, radar_rate=1.2, rcs_mean=12.0, lidar_intensity=45.0),
    ObjectClass('construction_vehicle', 'vehicle.construction', (6.4, 2.8, 3.2), (0.8, 0.2, 0.3),
                _CONSTRUCTION_PARTS, weight=0.06, radar_rate=1.2, rcs_mean=11.0, lidar_intensity=35.0),
    ObjectClass('bus', 'vehicle.bus.rigid', (11.0, 2.9, 3.5), (0.8, 0.12, 0.2), _BUS_PARTS,
                weight=0.08, radar_rate=1.5, rcs_mean=14.0, lidar_intensity=45.0),
    ObjectClass('trailer', 'vehicle.trailer', (12.0, 2.9, 3.9), (1.5, 0.15, 0.3), _TRAILER_PARTS,
                weight=0.07, radar_rate=1.3, rcs_mean=13.0, lidar_intensity=50.0),
    ObjectClass('barrier', 'movable_object.barrier', (0.5, 2.5, 0.98), (0.06, 0.3, 0.08), _BARRIER_PARTS,
                weight=0.1, radar_rate=0.35, rcs_mean=3.0, lidar_intensity=60.0),
    ObjectClass('motorcycle', 'vehicle.motorcycle', (2.1, 0.77, 1.47), (0.15, 0.08, 0.1), _MOTORCYCLE_PARTS,
                weight=0.08, radar_rate=0.4, rcs_mean=2.0, lidar_intensity=30.0,
                rider_parts=_MOTORCYCLE_RIDER),
    ObjectClass('bicycle', 'vehicle.bicycle', (1.7, 0.6, 1.28), (0.1, 0.06, 0.08), _BICYCLE_PARTS,
                weight=0.08, radar_rate=0.3, rcs_mean=-1.0, lidar_intensity=25.0,
                rider_parts=_BICYCLE_RIDER),
    ObjectClass('pedestrian', 'human.pedestrian.adult', (0.73, 0.67, 1.77), (0.08, 0.08, 0.1),
                _PEDESTRIAN_PARTS, weight=0.14, radar_rate=0.25, rcs_mean=-3.0, lidar_intensity=20.0),
    ObjectClass('traffic_cone', 'movable_object.trafficcone', (0.41, 0.41, 1.07), (0.05, 0.05, 0.1),
                _CONE_PARTS, weight=0.08, radar_rate=0.12, rcs_mean=-5.0, lidar_intensity=80.0),
)
CLASS_INDEX: Dict[str, int] = {c.name: i for i, c in enumerate(OBJECT_CLASSES)}
