"""``tools/analysis/gpu_check.sh`` without a GPU: it says so, and its
1-iteration CPU dry run goes through every step and writes the report."""
import os
import re
import subprocess
import sys

import pytest
import torch


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason='with a GPU the script runs the real check')
def test_dry_run_on_cpu_writes_every_section(repo_root, face300w_fixture,
                                            tmp_path):
    env = dict(os.environ, GPU_CHECK_DIR=str(tmp_path), PYTHON=sys.executable,
               OMP_NUM_THREADS='1')
    done = subprocess.run(
        ['bash', 'tools/analysis/gpu_check.sh', str(face300w_fixture)],
        cwd=repo_root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = (tmp_path / 'report.md').read_text()
    assert done.stdout.strip() == report.strip()  # one Markdown block
    assert 'no GPU (torch.cuda.is_available() is False)' in report
    assert '1-iteration dry run' in report
    for section in ('### 1. Benchmark', "### 2. MMPose's tools/train.py",
                    '### 3. RePFormer-R18-d128, 256x256'):
        assert section in report, section
    # the benchmark ran the model: a table row with a number in it
    assert re.search(r'\| RePFormer-R18 \| [\d.]+ \|', report)
    assert 'needs a GPU' in report  # the --amp step says why it skipped
    # the timed training ran one iteration and tested the result
    train_md = (tmp_path / 'train' / 'timed_training.md').read_text()
    assert '1 iterations (dry run)' in train_md, train_md
    nme = re.search(r'\| NME \(%\) \| ([\d.]+) \|', train_md)
    assert nme and 0 < float(nme.group(1)) < 1000, train_md
    assert '| test faces | 2 |' in train_md  # the fixture's two faces
