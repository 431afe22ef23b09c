# Copyright (c) mmsvf contributors. All rights reserved.
"""model-index.yml (shipped in mmsvf/.mim for mim) lists every config."""
import glob
import os.path as osp

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
