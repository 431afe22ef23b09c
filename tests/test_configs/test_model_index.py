# Copyright (c) mmsvf contributors. All rights reserved.
"""model-index.yml (shipped in mmsvf/.mim for mim) lists every config."""
import glob
import os.path as osp
import re

from mmengine.fileio import load

from mmsvf_test_utils import REPO_ROOT


def test_every_config_is_listed_once_and_exists():
    index = load(osp.join(REPO_ROOT, 'model-index.yml'))
    listed = []
    for metafile in index['Import']:
        meta = load(osp.join(REPO_ROOT, metafile))
        collections = {c['Name'] for c in meta['Collections']}
        for model in meta['Models']:
            assert model['In Collection'] in collections, model['Name']
            assert osp.isfile(osp.join(REPO_ROOT, model['Config'])), \
                model['Config']
            assert model['Name'] == osp.basename(model['Config'])[:-3]
            listed.append(model['Config'])
    assert len(listed) == len(set(listed))
    configs = sorted(
        osp.relpath(p, REPO_ROOT) for p in glob.glob(
            osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
        if f'{osp.sep}_base_{osp.sep}' not in p)
    assert sorted(listed) == configs


def _metafiles():
    index = load(osp.join(REPO_ROOT, 'model-index.yml'))
    return [(path, load(osp.join(REPO_ROOT, path)))
            for path in index['Import']]


def _slug(heading):
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return text.replace(' ', '-')


def _anchors(md_path):
    with open(md_path, encoding='utf-8') as f:
        return {_slug(line.lstrip('#')) for line in f
                if line.startswith('#')}


def _written(value):
    """The ways a metric value is written in the docs' tables (100.0 is
    written 100.00 there, 67.7 as 67.70)."""
    return {str(value), f'{value:.2f}'}


def test_every_config_folder_has_a_readme_naming_its_configs():
    for path, meta in _metafiles():
        folder = osp.dirname(path)
        readme = osp.join(folder, 'README.md')
        for collection in meta['Collections']:
            assert collection['README'] == readme, path
        with open(osp.join(REPO_ROOT, readme), encoding='utf-8') as f:
            text = f.read()
        for model in meta['Models']:
            assert osp.basename(model['Config']) in text, \
                (readme, model['Config'])
    assert osp.isfile(osp.join(REPO_ROOT, 'configs', '_base_', 'README.md'))


def test_results_say_whether_the_paper_reported_or_we_measured():
    """Paper numbers cite a paper table and are marked ``(paper)`` in the
    Dataset (mim shows only Task, Dataset and Metrics); measured numbers
    exist only for the toy configs and appear in the doc section they
    cite. Every number also appears in the folder's README."""
    kinds = {'paper': 0, 'measured': 0}
    for path, meta in _metafiles():
        with open(osp.join(REPO_ROOT, osp.dirname(path), 'README.md'),
                  encoding='utf-8') as f:
            readme = f.read()
        for model in meta['Models']:
            for result in model.get('Results', []):
                name = model['Name']
                assert set(result) == {'Task', 'Dataset', 'Source',
                                       'Reference', 'Metrics'}, name
                assert result['Task'] == model['Metadata']['Task'], name
                metrics = result['Metrics']
                assert metrics and all(
                    isinstance(v, (int, float)) for v in metrics.values())
                source = result['Source']
                assert source in kinds, (name, source)
                kinds[source] += 1
                if source == 'paper':
                    assert '_toy-' not in name, name
                    assert result['Dataset'].endswith('(paper)'), name
                    assert result['Reference'].startswith(
                        'arXiv 2505.10352, '), name
                    assert 'Table' in result['Reference'] or \
                        'comparison' in result['Reference'], name
                else:
                    assert '_toy-' in name, name
                    assert '(paper)' not in result['Dataset'], name
                    doc, rest = result['Reference'].split('#', 1)
                    anchor = rest.split(':', 1)[0]
                    doc_path = osp.join(REPO_ROOT, doc)
                    assert anchor in _anchors(doc_path), \
                        (name, result['Reference'])
                    with open(doc_path, encoding='utf-8') as f:
                        doc_text = f.read()
                    for key, value in metrics.items():
                        assert _written(value) & set(
                            re.findall(r'[\d.]+', doc_text)), (name, key)
                for key, value in metrics.items():
                    assert _written(value) & set(
                        re.findall(r'[\d.]+', readme)), (name, key, value)
    assert kinds['paper'] >= 9 and kinds['measured'] >= 4, kinds
