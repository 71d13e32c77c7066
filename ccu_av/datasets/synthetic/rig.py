"""The sensor rig: nuScenes-like mounting of 6 cameras, 5 radars and LIDAR_TOP on the ego vehicle.

Extrinsics are sensor-to-ego (x forward, y left, z up, origin at the rear axle, as nuScenes).
Cameras use the optical frame (x right, y down, z forward); radars x forward, y left;
LIDAR_TOP x right, y forward (rotated -90 degrees about z, as in nuScenes).
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from .geometry import make_transform, yaw_matrix

# optical frame -> a forward-looking sensor frame (x forward, y left, z up)
_OPTICAL_TO_FORWARD = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])

# channel: (translation in ego, yaw in degrees, horizontal field of view in degrees, time offset in ms)
# The time offsets follow the nuScenes pattern: the cameras fire as the lidar sweeps past them.
CAMERAS: Dict[str, Tuple[Tuple[float, float, float], float, float, float]] = {
    'CAM_FRONT': ((1.70, 0.02, 1.51), 0.0, 70.0, 2.0),
    'CAM_FRONT_RIGHT': ((1.55, -0.49, 1.50), -55.0, 70.0, 10.0),
    'CAM_BACK_RIGHT': ((1.05, -0.48, 1.56), -110.0, 70.0, 27.0),
    'CAM_BACK': ((0.03, 0.0, 1.57), 180.0, 100.0, 35.0),
    'CAM_BACK_LEFT': ((1.05, 0.48, 1.56), 110.0, 70.0, 43.0),
    'CAM_FRONT_LEFT': ((1.52, 0.49, 1.51), 55.0, 70.0, -6.0),
}
# channel: (translation in ego, yaw in degrees, time offset of the key-frame sweep in ms)
RADARS: Dict[str, Tuple[Tuple[float, float, float], float, float]] = {
    'RADAR_FRONT': ((3.41, 0.0, 0.5), 0.0, -12.0),
    'RADAR_FRONT_LEFT': ((2.42, 0.80, 0.5), 90.0, 18.0),
    'RADAR_FRONT_RIGHT': ((2.42, -0.80, 0.5), -90.0, -30.0),
    'RADAR_BACK_LEFT': ((-0.56, 0.63, 0.5), 170.0, 24.0),
    'RADAR_BACK_RIGHT': ((-0.56, -0.63, 0.5), -170.0, -20.0),
}
LIDAR = ('LIDAR_TOP', (0.94, 0.0, 1.84), -90.0)
RADAR_HALF_FOV_DEG = 60.0
# HDL-32E elevation range, degrees
LIDAR_ELEVATION_DEG = (-30.67, 10.67)


@dataclass(frozen=True)
class Sensor:
    """One sensor of the rig.

    Args:
        channel: nuScenes channel name.
        modality: 'camera', 'radar' or 'lidar'.
        sensor2ego: 4x4 transform from the sensor frame to the ego frame.
        intrinsic: 3x3 camera matrix (cameras only).
        width, height: image size (cameras only).
        time_offset_us: offset of its key-frame capture from the sample timestamp.
    """
    channel: str
    modality: str
    sensor2ego: np.ndarray
    time_offset_us: int
    intrinsic: Optional[np.ndarray] = None
    width: int = 0
    height: int = 0


def build_rig(image_width: int, image_height: int) -> Dict[str, Sensor]:
    """All 12 sensors, keyed by channel, cameras scaled to ``image_width`` x ``image_height``."""
    rig = {}
    for channel, (t, yaw, hfov, dt_ms) in CAMERAS.items():
        focal = image_width / 2.0 / np.tan(np.deg2rad(hfov) / 2.0)
        intrinsic = np.array([[focal, 0.0, image_width / 2.0], [0.0, focal, image_height / 2.0], [0, 0, 1.0]])
        rotation = yaw_matrix(np.deg2rad(yaw)) @ _OPTICAL_TO_FORWARD
        rig[channel] = Sensor(channel, 'camera', make_transform(rotation, np.array(t)), int(dt_ms * 1000),
                              intrinsic, image_width, image_height)
    for channel, (t, yaw, dt_ms) in RADARS.items():
        rig[channel] = Sensor(channel, 'radar', make_transform(yaw_matrix(np.deg2rad(yaw)), np.array(t)),
                              int(dt_ms * 1000))
    channel, t, yaw = LIDAR
    rig[channel] = Sensor(channel, 'lidar', make_transform(yaw_matrix(np.deg2rad(yaw)), np.array(t)), 0)
    return rig
