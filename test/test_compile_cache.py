# Copyright 2026 The wilor_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.


"""
wilor_ros.compile_cache: the artifacts file round trip with a real inductor compile, bad files.

The compiled function is a single matrix product: inductor lowers it to an extern ``mm`` call
in a Python wrapper, so no C++ is built with gcc and the test stays fast on a CPU, while the
artifacts come from torch's real FX graph cache.
"""

import os
import warnings

import pytest
import torch

from wilor_ros import compile_cache
from wilor_ros.compile_cache import (artifacts_supported, compile_cache_key, CompileCache,
                                     inductor_default_cache_dir, use_persistent_inductor_cache)

needs_artifacts = pytest.mark.skipif(
    not artifacts_supported(),
    reason=f'torch {torch.__version__} saves no compile artifacts (the mega-cache: torch 2.7 '
           'on); only the on-disk caches of inductor persist')


def product(x, w):
    return torch.mm(x, w)


def compile_once():
    """Compile and run ``product`` from a clean Dynamo state; return inductor's counters."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(product, backend='inductor', dynamic=False)
    result = compiled(torch.ones(3, 5), torch.ones(5, 2))
    assert torch.equal(result, torch.full((3, 2), 5.0))
    return dict(counters['inductor'])


@pytest.fixture
def fresh_torch_caches(monkeypatch, tmp_path):
    """Give the test its own inductor directory and an empty artifact record."""
    monkeypatch.setenv('WILOR_ROS_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('TORCHINDUCTOR_CACHE_DIR', str(tmp_path / 'first_inductor'))
    if not artifacts_supported():
        yield tmp_path   # the bad-file checks need no torch artifacts
        return
    from torch.compiler._cache import CacheArtifactManager

    # The record of artifacts is process-wide: start and end with an empty one.
    CacheArtifactManager.clear()
    yield tmp_path
    CacheArtifactManager.clear()
    torch._dynamo.reset()


def key(**changes):
    fields = {'device': 'cpu', 'precision': 'fp32', 'models': ['product'], 'image_hw': (3, 5)}
    fields.update(changes)
    return compile_cache_key(**fields)


@needs_artifacts
def test_round_trip_fills_an_empty_inductor_cache(fresh_torch_caches, monkeypatch):
    from torch.compiler._cache import CacheArtifactManager

    tmp_path = fresh_torch_caches
    first = CompileCache(key())
    assert first.load() == 0 and not first.path.exists()  # a first start: nothing yet
    assert compile_once().get('fxgraph_cache_miss', 0) >= 1
    assert first.save() >= 1
    assert first.path.parent == tmp_path / 'cache' / 'compile'
    assert not [p for p in first.path.parent.iterdir() if p.suffix == '.tmp']

    # A second start on a machine whose inductor directory is empty: the file alone serves.
    CacheArtifactManager.clear()
    monkeypatch.setenv('TORCHINDUCTOR_CACHE_DIR', str(tmp_path / 'second_inductor'))
    second = CompileCache(key())
    assert second.path == first.path
    assert second.load() >= 1
    assert list((tmp_path / 'second_inductor').rglob('*'))
    assert compile_once().get('fxgraph_cache_hit', 0) >= 1
    # Nothing new was compiled: the file is not rewritten.
    assert second.save() == 0


@needs_artifacts
def test_corrupt_file_warns_once_and_is_rebuilt(fresh_torch_caches):
    cache = CompileCache(key())
    cache.directory.mkdir(parents=True)
    compile_once()
    assert cache.save() >= 1
    data = cache.path.read_bytes()
    cache.path.write_bytes(data[:-3] + bytes(3 - i for i in range(3)))
    with pytest.warns(RuntimeWarning, match='corrupt') as caught:
        assert CompileCache(key()).load() == 0
    assert len(caught) == 1 and '\n' not in str(caught[0].message)
    assert not cache.path.exists()
    # The next save after warm-up writes a good file again.
    assert CompileCache(key()).save() >= 1
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert CompileCache(key()).load() >= 1


@pytest.mark.parametrize('content, problem', [
    (b'not a cache at all', 'not a wilor_ros compile cache'),
    (compile_cache.MAGIC + b'{}', 'truncated'),
])
def test_garbage_files_warn_and_never_raise(fresh_torch_caches, content, problem):
    cache = CompileCache(key())
    cache.directory.mkdir(parents=True)
    cache.path.write_bytes(content)
    with pytest.warns(RuntimeWarning, match=problem):
        assert cache.load() == 0


def test_foreign_key_is_refused(fresh_torch_caches):
    mine = CompileCache(key())
    mine.directory.mkdir(parents=True)
    other = CompileCache(key(precision='bf16'))
    assert other.path != mine.path  # another key, another file
    payload = b'payload'
    import hashlib

    # Someone else's file renamed to this key's name: its header names the other key.
    mine.path.write_bytes(compile_cache.MAGIC + other.text.encode() + b'\n'
                          + hashlib.sha256(payload).hexdigest().encode() + b'\n' + payload)
    with pytest.warns(RuntimeWarning, match='another key'):
        assert mine.load() == 0


def test_key_names_what_the_code_depends_on(tmp_path):
    weights = tmp_path / 'w.pt'
    weights.write_bytes(b'1234')
    fields = compile_cache_key('cpu', 'bf16', [weights, 'random model'], (480, 640),
                               buckets=[1, 2])
    assert fields['torch'] == torch.__version__ and fields['precision'] == 'bf16'
    assert fields['models'][0].startswith('w.pt:4:') and fields['models'][1] == 'random model'
    assert fields['image_hw'] == [480, 640] and fields['buckets'] == [1, 2]
    before = CompileCache(fields).path
    os.utime(weights, ns=(1, 1))  # new weights (same size): another key
    after = CompileCache(compile_cache_key('cpu', 'bf16', [weights, 'random model'],
                                           (480, 640), buckets=[1, 2])).path
    assert before != after


def test_inductor_directory_follows_the_package_cache_unless_chosen(monkeypatch, tmp_path):
    monkeypatch.setenv('WILOR_ROS_CACHE', str(tmp_path))
    monkeypatch.delenv('TORCHINDUCTOR_CACHE_DIR', raising=False)
    assert use_persistent_inductor_cache() == tmp_path / 'compile' / 'inductor'
    assert os.environ['TORCHINDUCTOR_CACHE_DIR'] == str(tmp_path / 'compile' / 'inductor')
    # Inductor's own default, written into the environment by inductor: not a choice.
    monkeypatch.setenv('TORCHINDUCTOR_CACHE_DIR', inductor_default_cache_dir())
    assert use_persistent_inductor_cache() == tmp_path / 'compile' / 'inductor'
    monkeypatch.setenv('TORCHINDUCTOR_CACHE_DIR', str(tmp_path / 'mine'))
    assert use_persistent_inductor_cache() == tmp_path / 'mine'
    assert os.environ['TORCHINDUCTOR_CACHE_DIR'] == str(tmp_path / 'mine')


def test_load_pipeline_loads_before_compiling_and_saves_after_warm_up(monkeypatch, tmp_path):
    from fixture_paths import DETECTOR, RECONSTRUCTOR

    from wilor_ros import loading

    events = []

    class Recorder(CompileCache):
        def load(self):
            events.append(('load', self.key['image_hw'], self.key['max_hands']))
            return 0

        def save(self):
            events.append(('save',))
            return 0

    class Pipeline(loading.HandPipeline):
        def __init__(self, *args, **kwargs):
            events.append(('compile', kwargs['compile']))
            super().__init__(*args, **{**kwargs, 'compile': False})

        def warm_up(self, image_hw=None, max_hands=None):
            events.append(('warm_up', tuple(image_hw)))
            return 0.0

    monkeypatch.setenv('WILOR_ROS_CACHE', str(tmp_path))
    monkeypatch.delenv('TORCHINDUCTOR_CACHE_DIR', raising=False)
    monkeypatch.setattr(compile_cache, 'CompileCache', Recorder)
    monkeypatch.setattr(compile_cache, 'artifacts_supported', lambda: True)
    monkeypatch.setattr(loading, 'HandPipeline', Pipeline)
    loading.load_pipeline(DETECTOR, RECONSTRUCTOR, device='cpu', compile=True, warm_up=True,
                          warm_up_image_hw=(720, 1280), max_hands=3)
    assert events == [('load', [720, 1280], 3), ('compile', True), ('warm_up', (720, 1280)),
                      ('save',)]
    assert os.environ['TORCHINDUCTOR_CACHE_DIR'] == str(tmp_path / 'compile' / 'inductor')
    events.clear()
    loading.load_pipeline(DETECTOR, RECONSTRUCTOR, device='cpu', warm_up=True)
    assert events == [('compile', False), ('warm_up', (480, 640))]  # no cache without compile
    # A torch without the artifacts cache (2.5, JetPack 6): compiling, no file, no warning.
    events.clear()
    monkeypatch.setattr(compile_cache, 'artifacts_supported', lambda: False)
    monkeypatch.delenv('TORCHINDUCTOR_CACHE_DIR')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        pipe = loading.load_pipeline(DETECTOR, RECONSTRUCTOR, device='cpu', compile=True,
                                     warm_up=True)
    assert events == [('compile', True), ('warm_up', (480, 640))] and pipe.compile_cache is None
    assert os.environ['TORCHINDUCTOR_CACHE_DIR'] == str(tmp_path / 'compile' / 'inductor')
