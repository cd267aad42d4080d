"""The one atomic writer (``repformer_mmpose.utils.atomic_write``).

Every writer of the plugin goes through it: checkpoints (mmengine's file
backend), the converters' JSON, images and ``metainfo.py``, SynthFace's
annotations and manifest. Checked here: permissions as a plain ``open()``
gives them (umask applied; ``tempfile.mkstemp`` gave 0600), a replaced
file's mode kept, nothing left on failure, and the stale temporaries of a
killed writer found and removed at the next start, with a log line, and
nothing else touched.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.runner.checkpoint import save_checkpoint

from repformer_mmpose.datasets.converters import write_json_atomic
from repformer_mmpose.datasets.converters.core import write_image_atomic
from repformer_mmpose.datasets.converters.custom import write_text_atomic
from repformer_mmpose.datasets.synthface.annotations import write_json
from repformer_mmpose.datasets.synthface.manifest import write_manifest
from repformer_mmpose.utils.atomic_write import (TEMP_PATTERN, atomic_open,
                                                 remove_stale_temporaries,
                                                 stale_temporaries)


@pytest.fixture
def umask():
    """``umask(value)`` for the test; the old one comes back after."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def _writers(folder: Path) -> dict[str, Path]:
    """Write one file with every writer; their paths."""
    paths = {
        'checkpoint': folder / 'epoch_1.pth',
        'converter json': folder / 'train.json',
        'converter image': folder / 'face.png',
        'metainfo': folder / 'metainfo.py',
        'synthface json': folder / 'synthface_train.json',
        'synthface manifest': folder / 'synthface_manifest.json',
    }
    save_checkpoint({'state_dict': {'w': torch.ones(2)}},
                    str(paths['checkpoint']))
    write_json_atomic({'images': []}, paths['converter json'])
    write_image_atomic(np.zeros((4, 4, 3), np.uint8),
                       paths['converter image'])
    write_text_atomic('dataset_info = {}\n', str(paths['metainfo']))
    write_json(str(paths['synthface json']), {'images': []})
    write_manifest(str(folder), {'params': {}})
    return paths


@pytest.mark.parametrize('mask, mode', [(0o022, 0o644), (0o077, 0o600),
                                        (0o002, 0o664)])
def test_every_writer_applies_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    paths = _writers(tmp_path)
    for writer, path in paths.items():
        assert stat.S_IMODE(path.stat().st_mode) == mode, writer
    # and no temporary file is left
    assert sorted(tmp_path.iterdir()) == sorted(paths.values())


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    path = tmp_path / 'train.json'
    path.write_text('{}')
    path.chmod(0o640)
    write_json_atomic({'a': 1}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert json.loads(path.read_text()) == {'a': 1}


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / 'metainfo.py'
    path.write_text('old')
    with pytest.raises(RuntimeError, match='interrupted'):
        with atomic_open(path) as f:
            f.write('new, half')
            raise RuntimeError('interrupted')
    assert path.read_text() == 'old'
    assert [p.name for p in tmp_path.iterdir()] == ['metainfo.py']


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, '-c', 'pass'])
    process.wait()
    return process.pid


def test_only_stale_temporaries_of_our_pattern_are_removed(tmp_path):
    dead = _dead_pid()
    stale = [
        f'.epoch_3.pth.{dead}-0badcafe.tmp',  # a killed writer's
        '.epoch_2.pth.k2j_h4g5.tmp',  # tempfile.mkstemp's (earlier versions)
        f'.face.png.{os.getpid()}-12345678.tmp.png',  # this process's
    ]
    kept = [
        '.epoch_4.pth.1-0badcafe.tmp',  # pid 1 runs: maybe in flight
        'epoch_3.pth', 'notes.tmp', '.hidden.tmp', '.x.tmp.bak',
        '.epoch_5.pth.ABCDEFGH.tmp',  # not mkstemp's alphabet
    ]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b'x' * 1000)
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / stale[0]).write_bytes(b'x')  # not below the folder
    assert stale_temporaries(tmp_path) == sorted(
        str(tmp_path / name) for name in stale)
    removed = remove_stale_temporaries(tmp_path)
    assert removed == [(str(tmp_path / name), 1000) for name in sorted(stale)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept +
                                                                ['sub'])


def test_the_writer_temporary_names_match_the_pattern(tmp_path, monkeypatch):
    names = []

    def crash(src, dst):  # a kill here would leave the temporary
        names.append(os.path.basename(src))
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'replace', crash)
    for writer in (lambda: write_json_atomic({}, tmp_path / 'a.json'),
                   lambda: write_image_atomic(np.zeros((2, 2), np.uint8),
                                              tmp_path / 'b.png')):
        with pytest.raises(KeyboardInterrupt):
            writer()
    assert [TEMP_PATTERN.match(name)['target'] for name in names] == [
        'a.json', 'b.png'
    ]
    assert names[1].endswith('.tmp.png')  # cv2 picks the format by it
