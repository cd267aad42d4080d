#!/usr/bin/env python
"""Generate SynthFace, the built-in synthetic face-landmark data set.

Example::

    python tools/synthface/generate.py data/synthface \\
        --num-train 3000 --num-test 500 --seed 0 --layout 68

Writes ``images/``, ``annotations/synthface_{train,test}.json``, the six
``synthface_test_<attribute>.json`` subsets and a manifest; an existing
set with the same parameters is kept unless ``--force``.  See
:mod:`repformer_mmpose.datasets.synthface`.
"""
import argparse


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('out', help='output folder')
    parser.add_argument('--num-train', type=int, default=3000)
    parser.add_argument('--num-test', type=int, default=500)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--layout', choices=['68', '98'], default='68',
                        help='68: iBUG/300W points, 98: WFLW points')
    parser.add_argument('--image-size', type=int, default=256)
    parser.add_argument('--format', choices=['jpg', 'png'], default='jpg',
                        help='jpg (quality 95) or lossless png')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if the manifest matches')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from repformer_mmpose.datasets.synthface import generate_synthface
    info = generate_synthface(
        args.out, num_train=args.num_train, num_test=args.num_test,
        seed=args.seed, layout=args.layout, image_size=args.image_size,
        workers=args.workers, force=args.force, image_format=args.format)
    for key, path in info['ann_files'].items():
        print(f'  {key:<18} {info["counts"][key]:>6}  {path}')


if __name__ == '__main__':
    main()
