"""The paper's ablations as config overrides, and schedules to run them.

Table 2 (components, on 300W):

==============  ===========  ========  =====================================
variant         use_pyramid  use_dlr   neck memories
==============  ===========  ========  =====================================
``baseline``    False        False     the backbone's last stage only
``pth``         True         False     one per stage (stage i reads v_M-i+1)
``dlr``         False        True      the backbone's last stage only
``full``        True         True      one per stage
==============  ===========  ========  =====================================

Table 3: the full model with temperature ``tau`` of Eq. 10 (10, 100, 1000,
10000 in the paper).

Beyond the paper (issue 17): the full model with the head options that let
every refinement stage refine (:data:`REFINEMENT_OPTIONS`, see
``repformer_mmpose/models/heads/refinement_options.py``); names joined with
``+`` combine them, e.g. ``stopgrad+subcell+sigma0.7``.

This module is the one definition of these variants; the configs in
``configs/repformer/300w/ablation/`` are the same overrides written out
(a test checks that they agree).
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mmengine.config import Config


@dataclass(frozen=True)
class Variant:
    """One ablation row."""

    name: str
    label: str
    use_pyramid: bool
    use_dlr: bool
    tau: float | None = None  # None: the config's
    head_options: tuple[tuple[str, object], ...] = ()  # beyond the paper


TABLE2_VARIANTS = (
    Variant('baseline', 'baseline', False, False),
    Variant('pth', '+ PTH', True, False),
    Variant('dlr', '+ DLR', False, True),
    Variant('full', '+ PTH + DLR (RePFormer)', True, True),
)
TABLE3_TAUS = (10., 100., 1000., 10000.)


# name -> (label, PTHHead options); ``sigma<X>`` (Eq. 10 width of X cells
# on every level), ``noise<X>`` (training noise of std X on every stage's
# input) and ``uncertainty-grad<X>`` (the uncertainty branch passing the
# share X of its gradient into the queries) are parsed, the others are
# listed.
REFINEMENT_OPTIONS: dict[str, tuple[str, dict]] = {
    'subcell': ('sub-cell offset', dict(subcell_offset=True)),
    'identity': ('identity in query', dict(landmark_identity_in_query=True)),
    'sharp-pos': ('sharp position encoding',
                  dict(landmark_pos_encoding='sharp')),
    'learned-pos': ('learned position encoding',
                    dict(landmark_pos_encoding='learned')),
    'stopgrad': ('residual stop-gradient',
                 dict(residual_stop_gradient=True)),
    'gelu': ('GELU residual predictors', dict(predictor_activation='gelu')),
    # a choice where the paper is silent (how L^0 is read from v_M)
    'pool-init': ('pooled L^0', dict(initial_predictor='pool')),
    # not a refinement option: the issue-15 confidence branch, listed here so
    # that it is compared at the same seed and budget (68 points, normalised
    # by the outer eye corners like the 300W metric)
    'uncertainty': ('uncertainty branch', dict(uncertainty=dict(
        distribution='laplace', norm_indices=(36, 45)))),
    'uncertainty-gaussian': ('uncertainty branch, Gaussian', dict(
        uncertainty=dict(distribution='gaussian', norm_indices=(36, 45)))),
}


# PTHHead options beyond the paper, with their (paper-faithful) defaults:
# every ablation row starts from these, so that a row is exactly the paper
# model plus the options it names, whatever the config chose as default
BEYOND_PAPER_DEFAULTS: dict[str, object] = dict(
    initial_predictor='flatten',
    aggregation_sigma_cells=None,
    subcell_offset=False,
    landmark_identity_in_query=False,
    landmark_pos_encoding='sine',
    landmark_pos_min_period=1 / 32,
    residual_stop_gradient=False,
    landmark_noise_std=0.,
    predictor_activation='relu',
    uncertainty=None,
)


def _number_after(prefix: str, name: str) -> float:
    """The number that follows ``prefix`` in ``name``; NaN if none."""
    try:
        return float(name[len(prefix):])
    except ValueError:
        return float('nan')


def refinement_option(name: str) -> tuple[str, dict]:
    """``(label, head options)`` of one refinement option name."""
    if name in REFINEMENT_OPTIONS:
        return REFINEMENT_OPTIONS[name]
    if name.startswith('noise'):
        std = _number_after('noise', name)
        if std > 0:
            return (f'training noise {std:g}', dict(landmark_noise_std=std))
    if name.startswith('sigma'):
        sigma = _number_after('sigma', name)
        if sigma > 0:
            return (f'sigma {sigma:g} cells',
                    dict(aggregation_sigma_cells=sigma))
    if name.startswith('uncertainty-grad'):
        share = _number_after('uncertainty-grad', name)
        if 0 < share <= 1:
            label, options = REFINEMENT_OPTIONS['uncertainty']
            return (f'{label}, {share:g} of its gradient into the queries',
                    dict(uncertainty=dict(options['uncertainty'],
                                          query_gradient=share)))
    raise KeyError(f'unknown refinement option {name!r}; choose from '
                   f'{sorted(REFINEMENT_OPTIONS)}, sigma<cells>, '
                   'noise<std> or uncertainty-grad<share>, joined with +')


def refinement_variant(name: str) -> Variant:
    """The full model with the refinement options of ``name`` (``+``
    joins several)."""
    labels, options = [], {}
    for part in name.split('+'):
        label, part_options = refinement_option(part)
        if set(part_options) & set(options):
            raise ValueError(f'{name!r}: {part!r} sets an option twice')
        labels.append(label)
        options.update(part_options)
    return Variant(name, ' + '.join(labels), True, True,
                   head_options=tuple(sorted(options.items())))


def table2_variant(name: str) -> Variant:
    for variant in TABLE2_VARIANTS:
        if variant.name == name:
            return variant
    raise KeyError(f'unknown Table 2 variant {name!r}; choose from '
                   f'{[v.name for v in TABLE2_VARIANTS]}')


def tau_variant(tau: float) -> Variant:
    """Table 3: the full model with temperature ``tau``."""
    if not tau > 0:
        raise ValueError(f'tau must be positive, got {tau}')
    return Variant(f'tau{tau:g}', f'tau = {tau:g}', True, True, float(tau))


def apply_variant(cfg: Config, variant: Variant) -> Config:
    """A copy of ``cfg`` (a RePFormer config: ``CrossScaleNeck`` +
    ``PTHHead``) changed into ``variant``.

    The pyramid reads the ``num_stages`` backbone levels ending at the
    neck's last one (ResNet: stages 1, 2, 3 for 3 stages); the variants
    without it read that last level only. The head options beyond the
    paper are reset to :data:`BEYOND_PAPER_DEFAULTS` first, then the
    variant's own are set.
    """
    cfg = copy.deepcopy(cfg)
    head, neck = cfg.model.head, cfg.model.neck
    if head.get('type') != 'PTHHead' or neck.get('type') != \
            'CrossScaleNeck':
        raise ValueError('ablations need a CrossScaleNeck + PTHHead model, '
                         f'got neck {neck.get("type")}, head '
                         f'{head.get("type")}')
    last = tuple(neck.in_indices)[-1]
    stages = head.get('num_stages', 3)
    if variant.use_pyramid:
        if last + 1 < stages:
            raise ValueError(f'neck level {last} is too low for a pyramid '
                             f'of {stages} levels')
        neck.in_indices = tuple(range(last - stages + 1, last + 1))
    else:
        neck.in_indices = (last, )
    for key, paper_value in BEYOND_PAPER_DEFAULTS.items():
        if key in head:  # absent: PTHHead's default, the paper's
            head[key] = paper_value
    head.use_pyramid = variant.use_pyramid
    head.use_dlr = variant.use_dlr
    if variant.tau is not None:
        head.tau = variant.tau
    head.update(dict(variant.head_options))
    return cfg


def temperature_label(head: Mapping) -> str:
    """Eq. 10's temperature as a table cell: ``tau`` or the sigma in
    cells that replaces it."""
    sigma = head.get('aggregation_sigma_cells')
    if sigma is not None:
        return f'sigma {sigma} cells'
    return f'{head.get("tau", 1000.):g}' if isinstance(
        head.get('tau', 1000.), (int, float)) else str(head['tau'])


SCHEDULE_KEYS = ('epochs', 'iters', 'lr', 'warmup', 'batch')


def parse_schedule(items: Sequence[str]) -> dict[str, float]:
    """``['iters=300', 'lr=1e-3']`` -> ``{'iters': 300, 'lr': 0.001}``."""
    schedule: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or key not in SCHEDULE_KEYS:
            raise ValueError(f'--schedule item {item!r}: expected KEY=VALUE '
                             f'with KEY one of {SCHEDULE_KEYS}')
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f'--schedule item {item!r}: {value!r} is not '
                             'a number') from None
        schedule[key] = number
    if ('epochs' in schedule) == ('iters' in schedule):
        raise ValueError('--schedule needs exactly one of epochs=N, iters=N')
    for key in ('epochs', 'iters', 'warmup', 'batch'):
        if key in schedule:
            if schedule[key] != int(schedule[key]) or schedule[key] < (
                    0 if key == 'warmup' else 1):
                raise ValueError(f'--schedule {key} must be a whole number '
                                 f'>= {0 if key == "warmup" else 1}')
            schedule[key] = int(schedule[key])
    return schedule


def _rescaled(scheduler: Mapping, old_end: float, new_end: int,
              by_epoch: bool) -> dict:
    """An epoch-based scheduler stretched from ``old_end`` to ``new_end``
    epochs (``by_epoch``) or iterations."""
    scheduler = dict(copy.deepcopy(scheduler))
    ratio = new_end / old_end
    scheduler.update(begin=0, end=new_end, by_epoch=by_epoch)
    if 'T_max' in scheduler:
        scheduler['T_max'] = new_end
    if 'milestones' in scheduler:
        scheduler['milestones'] = sorted(
            {max(1, round(m * ratio))
             for m in scheduler['milestones']})
    return scheduler


def apply_schedule(cfg: Config, schedule: Mapping[str, float]) -> Config:
    """A copy of ``cfg`` trained for ``epochs`` or ``iters`` (optionally
    with ``lr``, ``warmup`` iterations and ``batch`` size), without
    validation during training, saving only the final weights.

    The config's learning-rate schedule keeps its shape: epoch-based
    schedulers (cosine, multi-step) are stretched to the new length,
    iteration-based warm-up keeps its length (or ``warmup``), capped at
    the run's length.
    """
    cfg = copy.deepcopy(cfg)
    by_epoch = 'epochs' in schedule
    length = int(schedule['epochs'] if by_epoch else schedule['iters'])
    if 'lr' in schedule:
        cfg.optim_wrapper.optimizer.lr = float(schedule['lr'])
    if 'batch' in schedule:
        cfg.train_dataloader.batch_size = int(schedule['batch'])
    old_epochs = cfg.train_cfg.get('max_epochs', 1)
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, Mapping):
        schedulers = [schedulers]
    new_schedulers = []
    for scheduler in schedulers:
        if scheduler.get('by_epoch', True):
            old_end = scheduler.get('end', old_epochs)
            old_end = old_epochs if old_end > old_epochs else old_end
            new_schedulers.append(
                _rescaled(scheduler, old_end, length, by_epoch))
        else:  # warm-up
            scheduler = dict(copy.deepcopy(scheduler))
            end = int(schedule.get('warmup', scheduler.get('end', 0)))
            if end == 0:
                continue
            scheduler['end'] = end if by_epoch else min(end, length)
            new_schedulers.append(scheduler)
    cfg.param_scheduler = new_schedulers
    if by_epoch:
        cfg.train_cfg = dict(by_epoch=True, max_epochs=length,
                             val_interval=length + 1)
    else:
        cfg.train_cfg = dict(by_epoch=False, max_iters=length,
                             val_interval=length + 1)
        cfg.setdefault('log_processor', {})
        cfg.log_processor.by_epoch = False
    # test once at the end, on the last weights: no validation split here
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook',
        by_epoch=by_epoch,
        interval=length,
        save_best=None,
        max_keep_ckpts=1,
        save_optimizer=False,
        save_param_scheduler=False)
    logger = cfg.default_hooks.get('logger')
    if logger is not None:
        logger.interval = max(1, min(logger.get('interval', 50), length))
    return cfg
