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
The detector's and the reconstructor's capturable cores trace into one graph each.

``torch._dynamo.explain`` on the CPU: a graph break would split a CUDA graph (or force a host
round trip) under ``compile=True``. Also checks the static batch buckets.
"""

from fixture_paths import FIXTURES, RECONSTRUCTOR
import numpy as np
import pytest
import torch

from wilor_ros.reconstructor import load_reconstructor


def _breaks(explanation):
    return [str(reason.reason)[:300] for reason in explanation.break_reasons]


@pytest.mark.parametrize('precision', ['fp32', 'bf16'])
def test_reconstructor_has_no_graph_break(precision):
    reconstructor = load_reconstructor(RECONSTRUCTOR, dtype=precision)
    crops = torch.from_numpy(np.load(FIXTURES / 'wilor' / 'crops.npz')['img'])
    torch._dynamo.reset()
    with torch.inference_mode():
        explanation = torch._dynamo.explain(reconstructor)(crops)
    assert explanation.graph_break_count == 0, _breaks(explanation)
    assert explanation.graph_count == 1


def test_detector_network_and_nms_have_no_graph_break(fixture_detector, fixture_image):
    tensor, _ = fixture_detector.preprocess(fixture_image)
    torch._dynamo.reset()
    with torch.inference_mode():
        explanation = torch._dynamo.explain(fixture_detector.forward_fixed)(tensor, 0.3, 0.7, 10)
    assert explanation.graph_break_count == 0, _breaks(explanation)
    assert explanation.graph_count == 1


def test_batches_are_padded_to_static_buckets(make_fixture_pipeline, fixture_image):
    # Its own pipeline (compiled is switched on it), on the shared, never compiled networks.
    pipe = make_fixture_pipeline(max_hands=3)
    assert [pipe._batch_size(n) for n in (1, 3, 5)] == [1, 3, 5]
    pipe.compiled = True
    # Powers of two: 8 cameras x 10 hands fit in 8 graphs (pipeline.BATCH_BUCKETS).
    sizes = [pipe._batch_size(n) for n in (1, 2, 3, 5, 8, 9, 17, 80)]
    assert sizes == [1, 2, 4, 8, 8, 16, 32, 128]
    pipe.compiled = False
    plain = pipe(fixture_image)
    pipe.compiled = True  # eager network, padded batches: same hands
    padded = pipe(fixture_image)
    assert len(padded) == len(plain) == 3  # padded to a batch of 4
    for a, b in zip(padded, plain):
        np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-5)
