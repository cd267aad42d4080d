"""RePFormer-R18 overfits two real 300W faces: NME falls by a large factor."""
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmpose.registry import DATASETS, MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'repformer', '300w',
                  'repformer_res18_1xb16-360e_300w-256x256.py')
SIZE = 128  # a quarter of the pixels of the paper's 256: same model, faster


def inter_ocular_nme(samples) -> float:
    errors = []
    for sample in samples:
        pred = sample.pred_instances.keypoints[0]
        gt = sample.gt_instances.keypoints[0]
        ocular = np.linalg.norm(gt[36] - gt[45])
        errors.append(np.linalg.norm(pred - gt, axis=1).mean() / ocular)
    return float(np.mean(errors))


def test_r18_overfits_two_300w_faces(face300w_fixture):
    init_default_scope('mmpose')
    torch.manual_seed(0)
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None
    cfg.model.neck.dropout = cfg.model.head.dropout = 0.
    cfg.model.head.decoder.input_size = (SIZE, SIZE)
    cfg.model.head.initial_memory_size = (SIZE // 32, SIZE // 32)
    cfg.model.test_cfg.flip_test = False
    model = MODELS.build(cfg.model)

    codec = dict(type='DLRLabel', input_size=(SIZE, SIZE))
    dataset = DATASETS.build(
        dict(
            type='Face300WDataset',
            data_root=str(face300w_fixture),
            ann_file='test_300w.json',
            data_prefix=dict(img=''),
            pipeline=[
                dict(type='LoadImage'),
                dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=(SIZE, SIZE)),
                dict(type='GenerateTarget', encoder=codec),
                dict(type='PackPoseInputs')
            ]))
    batch = pseudo_collate([dataset[0], dataset[1]])

    def evaluate() -> float:
        model.eval()
        with torch.no_grad():
            data = model.data_preprocessor(batch, training=False)
            nme = inter_ocular_nme(model(**data, mode='predict'))
        model.train()
        return nme

    nme_before = evaluate()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
    data = model.data_preprocessor(batch, training=True)
    first_loss = None
    for _ in range(80):
        losses = model(**data, mode='loss')
        loss = sum(v for k, v in losses.items() if k.startswith('loss'))
        first_loss = first_loss or loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    nme_after = evaluate()
    print(f'NME before {nme_before:.4f}, after {nme_after:.4f}; '
          f'loss {first_loss:.4f} -> {loss.item():.4f}')
    assert loss.item() < first_loss / 5
    assert nme_after < nme_before / 5
    # the refinement refines: the last stage beats the initial landmarks
    assert losses['loss_stage3'] < losses['loss_stage0']
