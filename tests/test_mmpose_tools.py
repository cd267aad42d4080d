"""MMPose's own tools/train.py trains with our configs (custom_imports)."""
import os
import os.path as osp
import subprocess
import sys

import pytest

import mmpose
from repformer_mmpose.datasets.synthface import generate_synthface

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MMPOSE_TRAIN = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools',
                        'train.py')
CONFIG = osp.join(REPO, 'configs', 'repformer', 'synthface',
                  'repformer_res18-d128_1xb16-6e_synthface-128x128.py')


@pytest.mark.skipif(
    not osp.isfile(MMPOSE_TRAIN),
    reason=f'MMPose was installed without its tools ({MMPOSE_TRAIN})')
def test_mmpose_train_script_runs_our_config(tmp_path):
    data_root = tmp_path / 'synthface'
    generate_synthface(
        str(data_root), num_train=16, num_test=8, seed=1, verbose=False)
    root = f'{data_root}/'
    work_dir = tmp_path / 'work'
    command = [
        sys.executable, MMPOSE_TRAIN, CONFIG, '--work-dir',
        str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'train_dataloader.batch_size=8',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}'
    ]
    # run from outside the repo: only custom_imports brings the plugin in
    result = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            **os.environ, 'OMP_NUM_THREADS': '1'
        },
        timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert 'loss_stage3' in log and 'NME:' in log
    assert (work_dir / 'epoch_1.pth').is_file()
