"""tools/visualize.py from the command line's point of view."""
import pytest


def test_scene_and_index_draw_the_key_sample(visualize_tool, vis_nuscenes, tmp_path, capsys):
    code = visualize_tool.main([vis_nuscenes['dataroot'], '--version', vis_nuscenes['version'],
                                '--scene', vis_nuscenes['scene'], '--index', '1', '--out-dir', str(tmp_path),
                                '--pictures', 'bev', 'cameras', '--color-by', 'rcs', '--no-show'])
    assert code == 0
    printed = capsys.readouterr().out
    bev = tmp_path / f'{vis_nuscenes["scene"]}_{vis_nuscenes["sample_token"]}_bev.png'
    assert f'bev: {bev}' in printed and bev.stat().st_size > 0
    assert len(list(tmp_path.iterdir())) == 2


def test_bad_input_is_reported_without_traceback(visualize_tool, vis_nuscenes, tmp_path, capsys):
    base = [vis_nuscenes['dataroot'], '--version', vis_nuscenes['version'], '--out-dir', str(tmp_path),
            '--no-show']
    assert visualize_tool.main(base + ['--sample', 'nope']) == 2
    assert "sample token 'nope' is not in" in capsys.readouterr().err
    assert visualize_tool.main(base + ['--scene', 'scene-9']) == 2
    assert "scene 'scene-9' is not in" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        visualize_tool.main(base + ['--sample', 'x', '--checkpoint', 'a.pth'])       # needs --config
    assert '--config' in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
