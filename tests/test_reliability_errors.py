"""A bad ``tau`` is named at build time (issue 13, item 8).

Before, ``model.head.tau=nan`` built a model whose first step produced
NaN gradients, reported by the non-finite guard as a non-finite gradient
at iteration 1, not as the option that caused it. Now the head refuses
it when the model is built, before any data is read or any step runs,
naming the option and the value.
"""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BASE = (REPO / 'configs' / 'repformer' / 'synthface' /
        'repformer_res18-d128_1xb16-6e_synthface-128x128.py')


@pytest.mark.parametrize('value, shown', [('nan', 'nan'), ('inf', 'inf'),
                                          ('0', '0')])
def test_train_tool_names_a_bad_tau_before_training(tmp_path, load_tool,
                                                    value, shown):
    work = tmp_path / 'work'
    with pytest.raises(ValueError) as info:
        load_tool('train').main([
            str(BASE), '--work-dir', str(work), '--cfg-options',
            f'model.head.tau={value}', f'visualizer.name=vis_tau_{value}'])
    assert str(info.value) == (
        f'tau must be positive and finite, got {shown}')
    assert not list(work.rglob('*.pth'))


def test_a_bad_tau_in_the_config_file_is_named_too(tmp_path, load_tool):
    config = tmp_path / 'tau_nan.py'
    config.write_text(f"_base_ = ['{BASE}']\n"
                      "model = dict(head=dict(tau=float('nan')))\n")
    with pytest.raises(ValueError,
                       match='^tau must be positive and finite, got nan$'):
        load_tool('train').main([
            str(config), '--work-dir', str(tmp_path / 'work'),
            '--cfg-options', 'visualizer.name=vis_tau_file'])
