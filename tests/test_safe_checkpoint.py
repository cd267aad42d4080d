"""The weights_only loader keeps process-wide mmengine state intact."""
import collections

import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer

from repformer_mmpose.engine import (CheckpointReadError,
                                     UnsafeCheckpointError,
                                     load_checkpoint_file)


def test_checkpoint_cannot_replace_history_buffer_methods(tmp_path):
    original = dict(HistoryBuffer._statistics_methods)
    buffer = HistoryBuffer()
    buffer.update(1.)
    # A crafted file: its HistoryBuffer carries a foreign 'mean' method.
    HistoryBuffer._statistics_methods['mean'] = collections.Counter
    try:
        torch.save({'message_hub': buffer}, tmp_path / 'crafted.pth')
    finally:
        HistoryBuffer._statistics_methods.clear()
        HistoryBuffer._statistics_methods.update(original)
    with pytest.raises(UnsafeCheckpointError, match=r"methods \['mean'\]"):
        load_checkpoint_file(str(tmp_path / 'crafted.pth'))
    assert HistoryBuffer._statistics_methods == original


def test_genuine_history_buffer_round_trips(tmp_path):
    buffer = HistoryBuffer()
    for value in (1., 3.):
        buffer.update(value)
    torch.save({'message_hub': buffer}, tmp_path / 'ok.pth')
    loaded = load_checkpoint_file(str(tmp_path / 'ok.pth'))['message_hub']
    assert loaded.mean() == 2. and loaded.current() == 3.


@pytest.mark.parametrize('keep', [0.5, 0.0], ids=['truncated', 'empty'])
def test_unreadable_checkpoint_names_the_file(tmp_path, keep):
    # what a process killed while writing (without atomic saves) leaves
    path = tmp_path / 'epoch_3.pth'
    torch.save({'state_dict': {'w': torch.ones(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(CheckpointReadError) as info:
        load_checkpoint_file(str(path))
    message = str(info.value)
    assert message.startswith(
        f'checkpoint {path} ({int(len(data) * keep)} bytes) cannot be read: ')
    if keep:  # torch's reason is kept
        assert 'zip archive' in message
    else:
        assert message.endswith('empty or truncated file')
