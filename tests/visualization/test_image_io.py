import os

import cv2
import numpy as np
import pytest

from ccu_av.visualization.image_io import read_rgb, write_png


def test_write_png_is_whole_and_readable(tmp_path):
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    previous = os.umask(0o027)
    try:
        path = write_png(tmp_path / 'sub' / 'x.png', rgb)
    finally:
        os.umask(previous)
    np.testing.assert_array_equal(cv2.imread(str(path))[..., ::-1], rgb)
    assert path.stat().st_mode & 0o777 == 0o640                 # the umask's, not mkstemp's 0o600
    assert [p.name for p in path.parent.iterdir()] == ['x.png']
    with pytest.raises(ValueError, match=r'x.png: expected an \(H, W, 3\) uint8'):
        write_png(tmp_path / 'x.png', rgb.astype(np.float32))


def test_read_rgb_absent_and_broken_images(tmp_path):
    rgb = np.zeros((3, 4, 3), dtype=np.uint8)
    rgb[..., 0] = 200                                           # red in RGB
    write_png(tmp_path / 'red.png', rgb)
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'red.png')), rgb)
    assert read_rgb(str(tmp_path / 'erased.jpg')) is None
    (tmp_path / 'broken.jpg').write_bytes(b'not an image')
    with pytest.raises(ValueError, match='broken.jpg exists but cannot be decoded'):
        read_rgb(str(tmp_path / 'broken.jpg'))
