"""torch.profiler of one training step, paper fp32 recipe and fast recipe.

Prints, for each recipe, the operators that take the most CPU time in one
training step (forward, loss, backward, Adam) of a benchmark model (random
init, batch 16), after one untimed step::

    OMP_NUM_THREADS=1 python tools/analysis/profile_step.py \\
        --model RePFormer-R18-d128 --size 256 --rows 12
"""
from __future__ import annotations

import repformer_mmpose  # noqa: F401  (first: registers the plugin, quiets mmengine)
import argparse

from torch.profiler import ProfilerActivity, profile

from repformer_mmpose.benchmarking.recipes import MODELS, RECIPES, Case
from repformer_mmpose.engine.optim_wrappers import allow_bf16_to_numpy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', choices=list(MODELS),
                        default='RePFormer-R18-d128')
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--rows', type=int, default=12)
    args = parser.parse_args(argv)
    args.train_batch, args.infer_batch = 16, 1
    allow_bf16_to_numpy()
    for recipe in RECIPES:
        case = Case(args.model, args.size, recipe)
        case.build(args)
        case.train_step()  # untimed: kernel selection, allocations
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            case.train_step()
        total = sum(event.self_cpu_time_total
                    for event in prof.key_averages()) / 1e6
        print(f'\n### {args.model}, {args.size} px, {recipe} recipe: one '
              f'training step, {total:.2f} s of CPU time\n')
        print(prof.key_averages().table(sort_by='self_cpu_time_total',
                                        row_limit=args.rows))


if __name__ == '__main__':
    main()
