"""The model index (MMPose's metafile format) and the model zoo page
cover every config, point at configs that resolve, and claim a trained
figure only with the command that produced it."""
from pathlib import Path

import pytest
from mmengine.config import Config
from modelindex.load_model_index import load

REPO = Path(__file__).resolve().parents[1]
METAFILES = [REPO / 'configs/repformer/metafile.yml',
             REPO / 'configs/baselines/metafile.yml']


def models():
    for metafile in METAFILES:
        yield from load(str(metafile)).models


def test_metafiles_parse_and_cover_every_config():
    listed = [model.config for model in models()]
    assert len(listed) == len(set(listed))
    configs = sorted(
        p.relative_to(REPO).as_posix()
        for folder in ('configs/repformer', 'configs/baselines')
        for p in (REPO / folder).glob('**/*.py') if '_base_' not in p.parts)
    assert sorted(listed) == configs
    names = [model.name for model in models()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize('model', list(models()), ids=lambda m: m.name)
def test_each_entry_is_honest(model):
    Config.fromfile(str(REPO / model.config))  # resolves, _base_ included
    metadata = model.metadata.data
    assert metadata['Command'].startswith(('python ', 'OMP_NUM_THREADS'))
    assert model.config in metadata['Command'] or \
        metadata['Command'].endswith('tools/main_job.py')
    assert not model.weights  # nothing is published
    trained = metadata['Trained Here']
    for result in model.results or []:
        assert all(('paper' in name) != trained
                   for name in result.metrics), model.name


def test_zoo_page_lists_every_config():
    page = (REPO / 'docs/model_zoo.md').read_text()
    for model in models():
        assert f'`{model.config}`' in page
