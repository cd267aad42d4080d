"""The machine and the run, for the report's ``## Environment``: mmengine's
``collect_env()`` and what it leaves out (CPU, settings, load)."""
from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

import mmpose
from mmengine.utils.dl_utils import collect_env

from .models import REPO_ROOT


def _cpuinfo() -> str:
    path = Path('/proc/cpuinfo')
    try:
        return path.read_text()
    except OSError:  # not Linux
        return ''


def physical_cores() -> int:
    """Distinct (socket, core) ids of /proc/cpuinfo, else ``os.cpu_count()``:
    ``--threads``' default; torch and mmengine count logical CPUs only."""
    cores = {tuple(re.findall(r'^(?:physical|core) id\s*:\s*(\S+)', block,
                              re.M)) for block in _cpuinfo().split('\n\n')}
    return len(cores - {()}) or os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's name (``collect_env()`` has none)."""
    found = re.search(r'^model name[ \t]*:[ \t]*(.+)$', _cpuinfo(), re.M)
    return found[1] if found else platform.processor() or platform.machine()


def load_average() -> str:
    """``'1-min / 5-min / 15-min'`` load averages."""
    return ' / '.join(f'{v:.2f}' for v in os.getloadavg())


def environment_info(args: argparse.Namespace) -> dict:
    """The command, date, CPU, settings and load of this run (``args``: the
    benchmark's parsed arguments), then ``collect_env()``'s versions and
    GPUs, with MMPose's."""
    script = Path(sys.argv[0]).resolve()
    info = {
        'command': 'python ' + ' '.join([
            str(script.relative_to(REPO_ROOT))
            if script.is_relative_to(REPO_ROOT) else sys.argv[0]
        ] + sys.argv[1:]),
        'date': time.strftime('%Y-%m-%d %H:%M'),
        'cpu': f'{cpu_model()}, {physical_cores()} physical cores, '
        f'{os.cpu_count()} logical',
        'device': args.device,
        'threads': args.threads,
        'precision': 'bf16 autocast' if args.amp == 'bf16' else 'float32',
        'memory format': 'channels_last' if args.channels_last else 'NCHW',
        'input': f'{args.input_size}x{args.input_size}, '
        f'{args.num_keypoints} landmarks, random init, no flip test',
        'load average (1/5/15 min)': load_average(),
    }
    info.update(collect_env(), MMPose=mmpose.__version__)
    for key in ('PyTorch compiling details', 'numpy_random_seed'):
        info.pop(key, None)  # 20 lines of build flags; the seed is unused
    return info
