#!/usr/bin/env python
"""Kill rate of one mutmut 3 run (a package folder of mutation_check.sh).

    python tools/dev/mutation_report.py work_dirs/mutation/neurons
    python tools/dev/mutation_report.py DIR --sample 100 --seed 0  # names
    python tools/dev/mutation_report.py DIR --diff  # survivors with diffs

Reads mutmut's per-file ``mutants/<file>.meta`` results of the files that
the folder's ``setup.cfg`` (``only_mutate``) mutates. The kill rate is
``(killed + timeout) / all mutants``: a mutant no selected test reaches
("no tests") counts as not killed.
"""
import argparse
import configparser
import fnmatch
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

# mutmut 3.8 (mutmut.stats.status_by_exit_code); anything else: suspicious
STATUS = {1: 'killed', 3: 'killed', 0: 'survived', 5: 'no tests',
          33: 'no tests', 2: 'interrupted', None: 'not checked',
          34: 'skipped', 35: 'suspicious', 36: 'timeout', 37: 'type check',
          -24: 'timeout', 24: 'timeout', 152: 'timeout', 255: 'timeout',
          -11: 'segfault', -9: 'segfault'}
DETECTED = ('killed', 'timeout')


def load(folder):
    cfg = configparser.ConfigParser()
    cfg.read(folder / 'setup.cfg')
    patterns = cfg.get('mutmut', 'only_mutate').split()
    results = {}
    for meta in sorted((folder / 'mutants').rglob('*.py.meta')):
        src = meta.relative_to(folder / 'mutants').with_suffix('')
        if not any(fnmatch.fnmatch(str(src), p) for p in patterns):
            continue
        data = json.loads(meta.read_text())
        for name, code in data['exit_code_by_key'].items():
            results[name] = STATUS.get(code, 'suspicious')
    return patterns, results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('folder', type=Path)
    parser.add_argument('--sample', type=int,
                        help='print a random sample of N mutant names')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--only', nargs='*',
                        help='count only these mutants (a sampled run)')
    parser.add_argument('--diff', action='store_true',
                        help='print the diff of every survivor')
    args = parser.parse_args(argv)
    patterns, results = load(args.folder)
    if args.sample is not None:
        names = sorted(results)
        random.Random(args.seed).shuffle(names)
        print('\n'.join(sorted(names[:args.sample])))
        return 0
    if args.only:
        results = {k: v for k, v in results.items() if k in set(args.only)}
    counts = Counter(results.values())
    total = len(results)
    detected = sum(counts[s] for s in DETECTED)
    rate = 100.0 * detected / total if total else 0.0
    detail = ', '.join(f'{s} {n}' for s, n in sorted(counts.items()))
    print(f'    {" ".join(patterns)}: kill rate {detected}/{total} '
          f'= {rate:.1f} % ({detail})')
    survivors = sorted(k for k, v in results.items() if v not in DETECTED)
    if survivors:
        print(f'    not killed ({len(survivors)}):')
    mutmut = Path(sys.executable).with_name('mutmut')
    for name in survivors:
        print(f'      {results[name]:9s} {name}')
        if args.diff:
            diff = subprocess.run([str(mutmut), 'show', name],
                                  cwd=args.folder, capture_output=True,
                                  text=True).stdout
            print('        ' + diff.replace('\n', '\n        '))
    return 0


if __name__ == '__main__':
    sys.exit(main())
