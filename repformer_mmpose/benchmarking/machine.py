"""The machine and the run, for the report's ``## Environment``."""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

from .models import REPO_ROOT


def physical_cores() -> int:
    """Distinct (socket, core) pairs in /proc/cpuinfo; ``os.cpu_count()``
    where that is unavailable."""
    try:
        text = Path('/proc/cpuinfo').read_text()
    except OSError:
        return os.cpu_count() or 1
    cores, socket = set(), '0'
    for line in text.splitlines():
        key, _, value = line.partition(':')
        key, value = key.strip(), value.strip()
        if key == 'physical id':
            socket = value
        elif key == 'core id':
            cores.add((socket, value))
    return len(cores) or os.cpu_count() or 1


def cpu_model() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.partition(':')[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    """``'1-min / 5-min / 15-min'`` load averages."""
    return ' / '.join(f'{v:.2f}' for v in os.getloadavg())


def environment_info(args) -> dict:
    """The command, date, CPU, torch, device and settings of this run
    (``args``: the benchmark's parsed arguments)."""
    import torch
    script = Path(sys.argv[0]).resolve()
    info = {
        'command': 'python ' + ' '.join([
            str(script.relative_to(REPO_ROOT))
            if script.is_relative_to(REPO_ROOT) else sys.argv[0]
        ] + sys.argv[1:]),
        'date': time.strftime('%Y-%m-%d %H:%M'),
        'cpu': f'{cpu_model()}, {physical_cores()} physical cores, '
        f'{os.cpu_count()} logical',
        'torch': torch.__version__,
        'device': args.device,
        'threads': args.threads,
        'precision': 'bf16 autocast' if args.amp == 'bf16' else 'float32',
        'memory format': 'channels_last' if args.channels_last else 'NCHW',
        'input': f'{args.input_size}x{args.input_size}, '
        f'{args.num_keypoints} landmarks, random init, no flip test',
        'load average (1/5/15 min)': load_average(),
    }
    if args.device.startswith('cuda') and torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(args.device)
    return info
