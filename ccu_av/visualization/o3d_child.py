"""Draws a scene spec with open3d's legacy Visualizer; run as its own process by ``scene3d.py``.

Run by path (``python o3d_child.py SPEC OUT [--interactive]``), not as a module of the package,
so that it imports only numpy and open3d: one rendering route per process (STACK.md) and no
package start-up cost. Headless, it needs no ``DISPLAY``: open3d then falls back to Mesa's
software EGL, and ``capture_screen_float_buffer(do_render=True)`` returns the picture.

The spec is an ``.npz`` written by ``scene3d.write_spec``; for each panel ``i``:
``p{i}_points`` (P, 3), ``p{i}_point_colors`` (P, 3) in [0, 1], ``p{i}_box_center`` (K, 3),
``p{i}_box_rotation`` (K, 3, 3), ``p{i}_box_extent`` (K, 3), ``p{i}_box_color`` (K, 3),
``p{i}_segments`` (S, 2, 3) and ``p{i}_segment_colors`` (S, 3) (heading marks, velocities);
and once: ``width``, ``height``, ``point_size``, ``background`` (3,), ``intrinsic`` (3, 3),
``extrinsic`` (4, 4, world to camera), ``num_panels``.
"""
import argparse
import sys

import numpy as np
import open3d as o3d

EXIT_NO_WINDOW = 3      # create_window returned False: no usable graphics driver


def build_geometries(spec, panel: int) -> list:
    """The open3d geometries of one panel: a point cloud and one line set of boxes and segments."""
    key = f'p{panel}_'
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(spec[key + 'points']))
    cloud.colors = o3d.utility.Vector3dVector(spec[key + 'point_colors'])
    lines = o3d.geometry.LineSet()
    for center, rotation, extent, color in zip(spec[key + 'box_center'], spec[key + 'box_rotation'],
                                               spec[key + 'box_extent'], spec[key + 'box_color']):
        obb = o3d.geometry.OrientedBoundingBox(center, rotation, extent)
        obb.color = color           # unset by this constructor in open3d 0.20
        edges = o3d.geometry.LineSet.create_from_oriented_bounding_box(obb)
        edges.paint_uniform_color(color)
        lines += edges
    segments = spec[key + 'segments']           # (S, 2, 3)
    if len(segments):
        seg = o3d.geometry.LineSet(
            o3d.utility.Vector3dVector(segments.reshape(-1, 3)),
            o3d.utility.Vector2iVector(np.arange(2 * len(segments)).reshape(-1, 2)))
        seg.colors = o3d.utility.Vector3dVector(spec[key + 'segment_colors'])
        lines += seg
    return [cloud, lines]


def _set_camera(vis, spec) -> None:
    params = o3d.camera.PinholeCameraParameters()
    intrinsic = spec['intrinsic']
    params.intrinsic = o3d.camera.PinholeCameraIntrinsic(
        int(spec['width']), int(spec['height']), intrinsic[0, 0], intrinsic[1, 1],
        intrinsic[0, 2], intrinsic[1, 2])
    params.extrinsic = spec['extrinsic']
    if not vis.get_view_control().convert_from_pinhole_camera_parameters(params, allow_arbitrary=True):
        raise RuntimeError('open3d refused the scripted camera viewpoint.')


def _open_window(vis, spec, visible: bool) -> None:
    if not vis.create_window(window_name='ccu_av', width=int(spec['width']),
                             height=int(spec['height']), visible=visible):
        sys.stderr.write('open3d could not create a window: no usable OpenGL/EGL driver.\n')
        sys.exit(EXIT_NO_WINDOW)
    option = vis.get_render_option()
    option.background_color = spec['background']
    option.point_size = float(spec['point_size'])


def render(spec, out_path: str) -> None:
    """Every panel rendered off-screen, side by side: (H, W * panels, 3) uint8 saved as ``.npy``.

    The caller turns it into a PNG in its output folder (written whole, then renamed).
    """
    vis = o3d.visualization.Visualizer()
    _open_window(vis, spec, visible=False)
    images = []
    for panel in range(int(spec['num_panels'])):
        vis.clear_geometries()
        for geometry in build_geometries(spec, panel):
            vis.add_geometry(geometry)
        _set_camera(vis, spec)
        vis.poll_events()
        vis.update_renderer()
        buffer = np.asarray(vis.capture_screen_float_buffer(do_render=True))   # (H, W, 3)
        images.append((np.clip(buffer, 0.0, 1.0) * 255).round().astype(np.uint8))
    vis.destroy_window()
    np.save(out_path, np.concatenate(images, axis=1))


def show(spec) -> None:
    """Every panel in an interactive window, one after the other (close it for the next)."""
    for panel in range(int(spec['num_panels'])):
        vis = o3d.visualization.Visualizer()
        _open_window(vis, spec, visible=True)
        for geometry in build_geometries(spec, panel):
            vis.add_geometry(geometry)
        _set_camera(vis, spec)
        vis.run()
        vis.destroy_window()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('spec', help='the .npz scene spec')
    parser.add_argument('out', nargs='?', help='.npy to write the rendered RGB picture to (headless)')
    parser.add_argument('--interactive', action='store_true', help='open a window instead')
    args = parser.parse_args()
    spec = dict(np.load(args.spec))
    if args.interactive:
        show(spec)
    else:
        render(spec, args.out)


if __name__ == '__main__':
    main()
