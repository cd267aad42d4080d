"""Distributed data-parallel training: 2 CPU processes = 1 process.

``tools/dist_train.sh CONFIG 2`` (torchrun -> ``tools/train.py --launcher
pytorch`` -> mmengine's Runner, ``MMDistributedDataParallel``, gloo) trains
a tiny RePFormer (ResNet-18 at a quarter of its width, 64x64 input,
d_model 32) for 4 iterations with 2 faces per rank; meanwhile
``tools/train.py`` trains the same config in one process with 4 faces per
batch, the same global batch. A test-only hook in every process saves the
weights after init and after training, the faces each iteration read, and
the losses. Checked:

- each rank read its half of every global batch (``DefaultSampler``
  without shuffling gives rank r the faces r, r + 2, ...), and the single
  process read the same faces per iteration;
- both ranks end with bit-identical weights (DDP all-reduces gradients,
  so every rank applies the same update);
- those weights equal the single-process run's within ``ATOL`` (the
  averaged per-rank mean gradients are the global batch's mean gradient;
  they differ only in float summation order), and training moved them by
  far more than ``ATOL``.

Batch statistics: DDP without SyncBN normalises each rank's half batch with
its own BN statistics, which differ from the full batch's, so a BN model
would not match the single-process run. The test config uses GroupNorm in
the backbone (the neck and head use LayerNorm), whose output does not
depend on the batch. SyncBN is not an option here: torch's
``SyncBatchNorm`` runs on GPUs only.

The optimiser is SGD with momentum: Adam divides each step by the root of
the squared gradient, so a gradient that is zero up to rounding can turn
into a full ``lr`` step of either sign, which would make the comparison
test float noise rather than gradient averaging.

CPU only: mmengine's ``init_dist`` calls ``torch.cuda.set_device``, which
fails without a GPU; ``tools/train.py`` starts a gloo process group itself
when launched without a GPU and gives DDP ``device_ids=None`` (CPU
modules), so the test config names no backend. Nothing else differs from a
GPU run.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from repformer_mmpose.datasets.synthface import generate_synthface

REPO = Path(__file__).resolve().parents[1]
BASE_CONFIG = (REPO / 'configs' / 'repformer' / 'synthface' /
               'repformer_res18-d128_1xb16-6e_synthface-128x128.py')
NUM_FACES, PER_RANK, WORLD, EPOCHS = 8, 2, 2, 2
ITERS = EPOCHS * NUM_FACES // (PER_RANK * WORLD)
# max |w_ddp - w_single| allowed after ITERS SGD steps; measured 9e-8
# (float32 summation order), while training moved weights by 3e-2
ATOL = 1e-5
TIMEOUT_S = 300

PROBE = '''
"""Test-only: a CPU process group and a hook recording each process."""
import os

import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS

@HOOKS.register_module()
class RecordRankHook(Hook):

    def __init__(self, out_dir, tag):
        self.out_dir, self.tag = out_dir, tag
        self.ids, self.losses, self.initial = [], [], None

    def _weights(self, runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    def before_train(self, runner):
        self.initial = self._weights(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.ids.append(
            [int(s.metainfo['id']) for s in data_batch['data_samples']])
        self.losses.append(float(outputs['loss'].detach()))

    def after_train(self, runner):
        torch.save(
            dict(rank=runner.rank, world_size=runner.world_size,
                 distributed=runner.distributed,
                 wrapper=type(runner.model).__name__, ids=self.ids,
                 losses=self.losses, initial=self.initial,
                 final=self._weights(runner)),
            os.path.join(self.out_dir, f'{self.tag}_rank{runner.rank}.pth'))
'''

CONFIG = '''
_base_ = ['{base}']

custom_imports = dict(
    imports=['repformer_mmpose', 'ddp_probe'], allow_failed_imports=False)

input_size = (64, 64)
codec = dict(type='DLRLabel', input_size=input_size)
train_dataloader = dict(
    batch_size={per_rank}, num_workers=0, persistent_workers=False,
    # rank r reads faces r, r + 2, ...: its half of each global batch
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='Face300WDataset', data_root='{data}',
        ann_file='annotations/synthface_train.json',
        data_prefix=dict(img='images/'),
        pipeline=[  # no random augmentation
            dict(type='LoadImage'),
            dict(type='GetBBoxCenterScale'),
            dict(type='TopdownAffine', input_size=input_size),
            dict(type='GenerateTarget', encoder=codec),
            dict(type='PackPoseInputs'),
        ]))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None

embed_dims = 32
model = dict(
    # ResNet-18 at a quarter of its width, GroupNorm: batch-independent
    backbone=dict(stem_channels=16, base_channels=16,
                  norm_cfg=dict(type='GN', num_groups=8,
                                 requires_grad=True)),
    neck=dict(in_channels=[16, 32, 64, 128], embed_dims=embed_dims,
              num_heads=2, ffn_dims=64, dropout=0.),
    head=dict(embed_dims=embed_dims, num_heads=2, ffn_dims=64,
              predictor_dims=embed_dims, dropout=0.,
              initial_memory_size=(2, 2),
              decoder=dict(input_size=input_size)))
train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9))
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=None)
custom_hooks = [dict(type='RecordRankHook', out_dir='{out}', tag='run')]
randomness = dict(seed=0, deterministic=True)
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _env(probe_dir: Path) -> dict:
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHON=sys.executable,
        PORT=str(_free_port()),
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(probe_dir), env.get('PYTHONPATH')])))
    return env


def _run_both(tmp_path: Path, config: Path) -> None:
    """torchrun with 2 ranks and a 1-process run, at the same time."""
    env = _env(tmp_path)
    ddp = [
        'bash', str(REPO / 'tools' / 'dist_train.sh'), str(config),
        str(WORLD), '--work-dir', str(tmp_path / 'work_ddp'),
        '--cfg-options', 'custom_hooks.0.tag=ddp'
    ]
    single = [
        sys.executable, str(REPO / 'tools' / 'train.py'), str(config),
        '--work-dir', str(tmp_path / 'work_single'), '--cfg-options',
        'custom_hooks.0.tag=single',
        f'train_dataloader.batch_size={PER_RANK * WORLD}'
    ]
    processes = []
    for name, command in (('ddp', ddp), ('single', single)):
        log = open(tmp_path / f'{name}.log', 'w')
        processes.append((name, log, subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log,
            stderr=subprocess.STDOUT)))
    deadline = time.monotonic() + TIMEOUT_S
    for name, log, process in processes:
        try:
            process.wait(timeout=max(1., deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for _, _, other in processes:
                other.kill()
        log.close()
        output = (tmp_path / f'{name}.log').read_text()
        assert process.returncode == 0, (
            f'{name} run failed ({process.returncode}):\n{output[-4000:]}')


@pytest.fixture(scope='module')
def runs(tmp_path_factory) -> dict:
    tmp_path = tmp_path_factory.mktemp('ddp')
    data = tmp_path / 'synthface'
    generate_synthface(str(data), num_train=NUM_FACES, num_test=0, seed=2,
                       image_size=64, workers=1, verbose=False)
    (tmp_path / 'ddp_probe.py').write_text(PROBE)
    config = tmp_path / 'tiny_ddp.py'
    config.write_text(
        CONFIG.format(base=BASE_CONFIG, data=f'{data}/', out=tmp_path,
                      per_rank=PER_RANK, epochs=EPOCHS))
    _run_both(tmp_path, config)
    return {
        path.stem: torch.load(path, weights_only=False)
        for path in tmp_path.glob('*_rank*.pth')
    }


def test_each_rank_reads_its_half_of_the_global_batch(runs):
    assert sorted(runs) == ['ddp_rank0', 'ddp_rank1', 'single_rank0']
    rank0, rank1, single = (runs['ddp_rank0'], runs['ddp_rank1'],
                            runs['single_rank0'])
    for rank, record in enumerate((rank0, rank1)):
        assert (record['rank'], record['world_size']) == (rank, WORLD)
        assert record['distributed']
        assert record['wrapper'] == 'MMDistributedDataParallel'
    assert not single['distributed'] and single['world_size'] == 1
    assert len(single['ids']) == len(rank0['ids']) == ITERS
    ids = sorted({i for batch in single['ids'] for i in batch})
    assert len(ids) == NUM_FACES
    faces_per_epoch = NUM_FACES // (PER_RANK * WORLD)
    for step, batch in enumerate(single['ids']):
        start = (step % faces_per_epoch) * PER_RANK * WORLD
        assert batch == ids[start:start + PER_RANK * WORLD]
        assert rank0['ids'][step] == batch[0::2]
        assert rank1['ids'][step] == batch[1::2]


def test_both_ranks_end_with_identical_weights(runs):
    rank0, rank1 = runs['ddp_rank0']['final'], runs['ddp_rank1']['final']
    assert set(rank0) == set(rank1)
    for name in rank0:
        torch.testing.assert_close(rank1[name], rank0[name], rtol=0, atol=0,
                                   msg=name)
    for name, value in runs['ddp_rank1']['initial'].items():
        assert torch.equal(value, runs['ddp_rank0']['initial'][name]), name


def test_ddp_matches_one_process_with_the_same_global_batch(runs):
    ddp, single = runs['ddp_rank0'], runs['single_rank0']
    for name, value in single['initial'].items():
        assert torch.equal(ddp['initial'][name], value), name
    largest_move, largest_gap = 0., 0.
    for name, value in single['final'].items():
        if not value.is_floating_point():
            continue
        gap = (ddp['final'][name] - value).abs().max().item()
        move = (value - single['initial'][name]).abs().max().item()
        largest_gap, largest_move = max(largest_gap, gap), max(
            largest_move, move)
        assert gap <= ATOL, f'{name}: |ddp - single| = {gap:.2e}'
    # the comparison is not trivial: training moved the weights far more
    assert largest_move > 100 * ATOL, largest_move
    # the logged loss is each rank's own half batch; their mean is the
    # global batch's loss at that step (same weights, L1 mean)
    for step in range(ITERS):
        mean = (ddp['losses'][step] + runs['ddp_rank1']['losses'][step]) / 2
        assert mean == pytest.approx(single['losses'][step], abs=1e-5)


# ----------------------------------------------------------------------
# tools/slurm_train.sh and tools/dist_train.sh arguments
# ----------------------------------------------------------------------
FAKE_SRUN = """#!/usr/bin/env bash
# records what it was asked to run, one argument a line
printf '%s\\n' "$@" > "$SRUN_RECORD"
printf 'MASTER_PORT=%s\\nPYTHONPATH=%s\\n' "$MASTER_PORT" "$PYTHONPATH" \\
    > "$SRUN_RECORD.env"
"""


def test_slurm_train_hands_the_job_to_srun(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(FAKE_SRUN)
    srun.chmod(0o755)
    record = tmp_path / 'srun_args'
    env = dict(os.environ, PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}',
               SRUN_RECORD=str(record), GPUS='16', PORT='29611',
               SRUN_ARGS='--quotatype=auto --exclusive',
               PYTHON='/opt/py/bin/python')
    subprocess.run(
        ['bash', str(REPO / 'tools' / 'slurm_train.sh'), 'gpu-part', 'rp',
         'cfg.py', 'work/rp', '--amp', '--cfg-options', 'a=1'],
        env=env, check=True, cwd=tmp_path)
    assert record.read_text().splitlines() == [
        '-p', 'gpu-part', '--job-name=rp', '--gres=gpu:8', '--ntasks=16',
        '--ntasks-per-node=8', '--cpus-per-task=5', '--kill-on-bad-exit=1',
        '--quotatype=auto', '--exclusive', '/opt/py/bin/python', '-u',
        str(REPO / 'tools' / 'train.py'), 'cfg.py', '--work-dir=work/rp',
        '--launcher', 'slurm', '--amp', '--cfg-options', 'a=1'
    ]
    recorded_env = dict(
        line.split('=', 1)
        for line in Path(f'{record}.env').read_text().splitlines())
    assert recorded_env['MASTER_PORT'] == '29611'
    first_path = recorded_env['PYTHONPATH'].split(os.pathsep)[0]
    assert Path(first_path).resolve() == REPO


def test_dist_train_passes_the_node_settings_to_torchrun(tmp_path):
    fake_python = tmp_path / 'python'
    fake_python.write_text(FAKE_SRUN)  # records its arguments the same way
    fake_python.chmod(0o755)
    record = tmp_path / 'torchrun_args'
    env = dict(os.environ, SRUN_RECORD=str(record), PYTHON=str(fake_python),
               NNODES='2', NODE_RANK='1', MASTER_ADDR='10.1.2.3',
               PORT='29622')
    subprocess.run(
        ['bash', str(REPO / 'tools' / 'dist_train.sh'), 'cfg.py', '4',
         '--resume'], env=env, check=True, cwd=tmp_path)
    assert record.read_text().splitlines() == [
        '-m', 'torch.distributed.run', '--nnodes=2', '--node_rank=1',
        '--master_addr=10.1.2.3', '--nproc_per_node=4',
        '--master_port=29622', str(REPO / 'tools' / 'train.py'), 'cfg.py',
        '--launcher', 'pytorch', '--resume'
    ]


@pytest.mark.parametrize('script, args', [
    ('dist_train.sh', ['cfg.py']),
    ('slurm_train.sh', ['part', 'job', 'cfg.py']),
])
def test_launch_scripts_print_their_usage(script, args):
    result = subprocess.run(['bash', str(REPO / 'tools' / script), *args],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith('usage:') and 'CONFIG' in result.stderr
