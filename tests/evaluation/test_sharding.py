"""How distributed evaluation splits samples over ranks (``ccu_av.utils.dist``), without processes:
every token in exactly one rank's share, shares balanced, no padding; the single-process path of
the collective helpers; a failure rebuilt with its type and message for the other ranks."""
import pytest
from mmengine.config import Config

from ccu_av.jobs.work_dir import WorkDirConflict
from ccu_av.utils import dist as ccu_dist


@pytest.mark.parametrize('world', [1, 2, 3, 4])
@pytest.mark.parametrize('count', [0, 1, 2, 3, 5, 7, 8, 13])
def test_every_token_is_in_exactly_one_share_and_shares_are_balanced(world, count):
    tokens = [f'tok{i:02d}' for i in range(count)]
    shares = [ccu_dist.shard(tokens, rank, world) for rank in range(world)]
    # concatenated in rank order, the shares are the tokens, each once, in their order
    assert [t for share in shares for t in share] == tokens
    sizes = [len(share) for share in shares]
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)  # the larger shares first
    assert sum(sizes) == count  # no padding duplicates


def test_the_split_is_contiguous_and_deterministic():
    tokens = list('abcdefg')
    assert [ccu_dist.shard(tokens, r, 3) for r in range(3)] == [['a', 'b', 'c'], ['d', 'e'], ['f', 'g']]
    assert ccu_dist.shard(tokens, 1, 3) == ccu_dist.shard(tuple(tokens), 1, 3)
    with pytest.raises(ValueError, match='rank 3 of a world of 3'):
        ccu_dist.shard(tokens, 3, 3)
    with pytest.raises(ValueError, match='rank 0 of a world of 0'):
        ccu_dist.shard(tokens, 0, 0)


def test_in_a_single_process_the_helpers_are_plain_calls():
    assert ccu_dist.rank_and_world() == (0, 1) and ccu_dist.is_rank_zero()
    seen = []
    out = ccu_dist.run_sharded(['b', 'a'], lambda part: seen.append(part) or {t: t.upper() for t in part})
    assert seen == [['b', 'a']] and list(out.items()) == [('b', 'B'), ('a', 'A')]
    assert ccu_dist.run_on_rank_zero(lambda x, y=0: x + y, 2, y=3) == 5
    with pytest.raises(KeyError):
        ccu_dist.run_on_rank_zero(lambda: {}['missing'])


def test_this_process_only_nests_and_reports_a_world_of_one(monkeypatch):
    monkeypatch.setattr(ccu_dist, 'get_dist_info', lambda: (1, 2))  # as on rank 1 of 2
    assert ccu_dist.rank_and_world() == (1, 2) and not ccu_dist.is_rank_zero()
    with ccu_dist.this_process_only():
        with ccu_dist.this_process_only():
            assert ccu_dist.rank_and_world() == (0, 1)
        assert ccu_dist.rank_and_world() == (0, 1)
    assert ccu_dist.rank_and_world() == (1, 2)


def test_a_failure_is_rebuilt_on_the_other_ranks_with_its_type_and_message():
    for error in (ValueError('bad value'), FileNotFoundError('no such file'), WorkDirConflict('taken')):
        rebuilt = ccu_dist._rebuild(ccu_dist._describe(error))
        assert type(rebuilt) is type(error) and str(rebuilt) == str(error)

    class Local(Exception):  # not importable by name on another rank
        pass

    rebuilt = ccu_dist._rebuild(ccu_dist._describe(Local('odd')))
    assert type(rebuilt) is RuntimeError and str(rebuilt).endswith('Local: odd')


def test_a_launcher_without_its_environment_is_refused(monkeypatch):
    for name in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(name, raising=False)
    ccu_dist.check_launcher('none')
    with pytest.raises(ValueError, match='--launcher pytorch is refused: RANK, .*MASTER_PORT not set.*torchrun'):
        ccu_dist.check_launcher('pytorch')
    with pytest.raises(ValueError, match='must be one of'):
        ccu_dist.check_launcher('ssh')
    monkeypatch.setattr(ccu_dist.torch.cuda, 'is_available', lambda: False)
    for launcher in ('slurm', 'mpi'):
        with pytest.raises(ValueError, match=f'--launcher {launcher} is refused: it needs CUDA'):
            ccu_dist.check_launcher(launcher)


def test_a_single_process_runner_config_is_left_as_it_is(monkeypatch):
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl')), find_unused_parameters=True))
    before = cfg.pretty_text
    ccu_dist.configure_runner(cfg, 'none')
    assert cfg.pretty_text == before
    monkeypatch.delenv('MASTER_PORT', raising=False)
    with pytest.raises(RuntimeError, match='start it with torchrun'):
        ccu_dist.setup_cpu_distributed(cfg)
