"""Private sites: a stretch of a scene's road whose camera look exists in no other scene.

A site scene drives through its site: the ground, the buildings and the annotated objects within
``SITE_HALF_LENGTH`` (along the road) of where the ego is halfway through the scene take the
site's look (``appearance.site_look``); the rest of the scene keeps its location's look. Which
objects and buildings belong to the site is fixed once per scene, so an object keeps one look
in every frame. Only the cameras see a site: geometry, boxes, lidar and radar are the world's.
Letters: K objects, B buildings, P parts (objects' parts, then buildings), G ground points.
"""
from dataclasses import dataclass
from typing import List

import numpy as np

from .appearance import LocationLook, site_look
from .world import SceneWorld

# half the length of road a site covers, metres (a scene's ego drives up to about 35 m)
SITE_HALF_LENGTH = 15.0


def site_names(location: str, count: int) -> List[str]:
    """Names of the ``count`` private sites of ``location``: ``<location>-site-1``, ..."""
    return [f'{location}-site-{k + 1}' for k in range(count)]


@dataclass(frozen=True)
class PrivateSite:
    """A private site placed in one scene.

    Args:
        name: the site's name (fixes its look).
        look: its camera look.
        s_low, s_high: the stretch of road it covers (road frame s, both sides of the road).
        parts: (P,) whether each part of the scene's part table (``SceneWorld.parts``) is the site's.
    """
    name: str
    look: LocationLook
    s_low: float
    s_high: float
    parts: np.ndarray

    def covers(self, world: SceneWorld, points: np.ndarray) -> np.ndarray:
        """(G,) whether (G, 2+) global ground points lie on the site."""
        s = world.global_to_road(points[:, :2])[:, 0]
        return (s >= self.s_low) & (s <= self.s_high)


def place_site(name: str, location: str, world: SceneWorld, t_mid: float) -> PrivateSite:
    """Place site ``name`` of ``location`` around the ego's position at time ``t_mid``.

    An object belongs to the site if its centre is on the site at ``t_mid``, a building if its centre is.
    """
    s_mid = world.ego_s(t_mid)
    s_low, s_high = s_mid - SITE_HALF_LENGTH, s_mid + SITE_HALF_LENGTH
    objects_s = np.array([o.s + o.v_s * t_mid for o in world.objects])  # (K,)
    objects_in = (objects_s >= s_low) & (objects_s <= s_high)
    buildings_in = (world.buildings.s >= s_low) & (world.buildings.s <= s_high)  # (B,)
    owner = world.parts(t_mid)['owner']  # (P,) object index, -1 for buildings (the last B parts)
    parts = np.concatenate([objects_in[owner[owner >= 0]], buildings_in])
    return PrivateSite(name, site_look(location, name), float(s_low), float(s_high), parts)
