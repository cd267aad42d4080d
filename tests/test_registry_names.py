"""The plugin adds names to MMPose's registries and replaces none.

Run in a fresh interpreter: every mmengine ``Registry`` that mmengine, mmcv
and mmpose create (imported in full) is recorded, then ``repformer_mmpose``
(and its APIs) are imported; no name of any registry may change what it
maps to, and no name we add may hide one of an ancestor registry (the
lookup in MMPose's scope would find ours first).
"""
import subprocess
import sys

PROBE = r'''
import gc, json, warnings
warnings.filterwarnings('ignore')
from mmengine.registry import Registry
import mmengine.registry, mmcv.transforms
import mmpose.apis, mmpose.codecs, mmpose.datasets, mmpose.engine
import mmpose.evaluation, mmpose.models, mmpose.visualization
from mmpose.utils import register_all_modules
register_all_modules(init_default_scope=False)

def registries():
    return {id(r): r for r in gc.get_objects() if isinstance(r, Registry)}

before = {key: dict(r._module_dict) for key, r in registries().items()}
import repformer_mmpose, repformer_mmpose.apis  # noqa: E401
problems, added = [], 0
for key, registry in registries().items():
    if key not in before:
        continue
    where = f'{registry.scope}::{registry.name}'
    for name, module in registry._module_dict.items():
        if name in before[key]:
            if before[key][name] is not module:
                problems.append(f'{where}: {name} replaced')
            continue
        added += 1
        parent = registry.parent
        while parent is not None:
            if name in parent._module_dict:
                problems.append(f'{where}: {name} hides '
                                f'{parent.scope}::{parent.name}')
            parent = parent.parent
print(json.dumps(dict(problems=problems, added=added)))
'''


def test_import_replaces_and_hides_no_registered_name():
    import json
    out = subprocess.run([sys.executable, '-c', PROBE], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result['added'] > 20  # the probe saw our registrations
    assert result['problems'] == []


def test_mmcv_random_grayscale_is_mmcvs_in_mmposes_scope():
    """The clash a user met: mmcv's RandomGrayscale with its own
    arguments, built in MMPose's scope after the plugin is imported."""
    import repformer_mmpose  # noqa: F401
    from mmcv.transforms import RandomGrayscale

    from mmpose.registry import TRANSFORMS
    transform = TRANSFORMS.build(
        dict(type='RandomGrayscale', prob=0.3, keep_channels=True))
    assert isinstance(transform, RandomGrayscale)
