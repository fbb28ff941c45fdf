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
Blurred crops (a hand close to the camera) on the device path have static shapes.

Issue 19, point 5: the crops of hands whose crop side exceeds 563.2 px were cut hand by hand
from a blurred window whose shape followed the box, so they could not stay in a graph. Here:
the same blurred hands in other places, sizes and sides run with the same shapes (one Dynamo
compilation with ``fullgraph=True`` and static shapes, no graph break), the kernel launches on
a simulated GPU do not grow with the number of blurred hands, nothing is read back on the
host, and the crops still equal the official ones (OpenCV + scipy in float64; also
``test/test_crops.py``).
"""

import contextlib

from fixture_paths import FIXTURES
from gpu_tracer import CUDA, SimulatedCuda
import numpy as np
from opencv_release import NEW_OPENCV
import pytest
import torch

from wilor_ros.blurred_crops import cut_blurred_crops
from wilor_ros.compile_counters import CompileCounter
from wilor_ros.crop_geometry import blur_sigma, crop_geometry, IMAGE_MEAN, IMAGE_STD
from wilor_ros.crops import cut_crops, plan_crops
from wilor_ros.crops_opencv import crops_opencv

# Boxes whose crops are blurred (crop side > 563.2 px) on the 640x480 fixture image: inside,
# over the left / bottom borders, one that reads no pixel, the fixed-point tie of test_crops.
BLURRED_BOXES = np.array([
    [120.0, 80.0, 520.0, 400.0],
    [-150.0, 200.0, 260.0, 560.0],
    [300.0, 250.0, 700.0, 520.0],
    [385.31158, 276.1261, 750.08826, 513.91766],
    [-2000.0, -2000.0, -1600.0, -1700.0],
    [10.0, 10.0, 630.0, 470.0],
], dtype=np.float32)
SHARP_BOX = np.array([[200.0, 150.0, 260.0, 230.0]], dtype=np.float32)


@pytest.fixture(scope='module')
def image():
    return np.load(FIXTURES / 'wilor' / 'preprocess.npz')['image']


def _plan(image, boxes, right):
    center, size = crop_geometry(boxes)
    return center, size, plan_crops(center, size, np.asarray(right, np.float32),
                                    image.shape[:2])


def _blurred_inputs(image, boxes, right):
    """Return the uploaded inputs of cut_blurred_crops for blurred ``boxes`` (host tensors)."""
    _, size, plan = _plan(image, boxes, right)
    assert (blur_sigma(size) > 0).all()
    uploaded = plan['packed'].upload('cpu')
    group, = plan['blurred']
    return tuple(uploaded[group[key]] for key in ('frame_index', 'rows', 'columns', 'grid'))


def test_blurred_crops_equal_opencv(image):
    boxes = np.concatenate((BLURRED_BOXES, SHARP_BOX))
    right = np.array([1, 0, 1, 0, 1, 0, 1], np.float32)
    center, size, plan = _plan(image, boxes, right)
    ours = cut_crops(torch.from_numpy(image), plan)
    official = crops_opencv(image, center, size, right, 256)
    std = 255 * torch.tensor(IMAGE_STD, dtype=torch.float64)[:, None, None]
    grey = (ours.double() - official.double()).abs() * std
    assert grey[:-1].max() < 1e-3, grey.amax(dim=(1, 2, 3))
    if NEW_OPENCV:
        assert torch.equal(ours[-1], official[-1])
    else:
        # An older OpenCV warps 8-bit images in 1/32-pixel fixed point (test_crops.py): the
        # sharp crop is a few grey levels apart on some pixels; the blurred ones (float32 on
        # every release) are not.
        sharp = (ours[-1].double() - official[-1].double()).abs() * std
        assert sharp.max() <= 6 and sharp.mean() <= 0.15, (sharp.max(), sharp.mean())
    # The box that reads no pixel is black (zero before normalisation).
    mean = 255 * torch.tensor(IMAGE_MEAN, dtype=torch.float64)[:, None, None]
    assert (ours[4].double() * std + mean).abs().max() < 1e-4


def _dynamo_traces_context_managers():
    """Whether Dynamo traces a contextlib.contextmanager (the TF32 switch) into one graph."""
    @contextlib.contextmanager
    def switch():
        yield

    def function(x):
        with switch():
            return x + 1

    torch._dynamo.reset()
    try:
        torch.compile(function, backend='eager', fullgraph=True)(torch.zeros(1))
    except torch._dynamo.exc.Unsupported:
        return False   # torch 2.5 (JetPack 6): a graph break at the switch
    return True


def test_blurred_crops_keep_static_shapes_and_compile_once(image):
    frames = torch.from_numpy(image)[None]
    counter = CompileCounter('blurred crops')
    # One graph where Dynamo traces the TF32 switch (recent torch); on torch 2.5 the switch is
    # a graph break (the frames around it compile on the first call), and what must hold is
    # that no later set of hands compiles again.
    one_graph = _dynamo_traces_context_managers()
    compiled = counter.wrap(torch.compile(cut_blurred_crops, backend='eager',
                                          fullgraph=one_graph, dynamic=False))
    # Four different sets of three or four blurred hands: all padded to 4, same shapes.
    sets = [([0, 1, 2], [1, 0, 1]), ([3, 4, 5], [0, 1, 0]), ([5, 0, 3, 1], [1, 1, 0, 0]),
            ([2, 4, 1], [0, 0, 1])]
    torch._dynamo.reset()
    first = None
    for hands, right in sets:
        inputs = _blurred_inputs(image, BLURRED_BOXES[hands], right)
        assert inputs[1].shape[0] == 4
        assert torch.equal(compiled(frames, *inputs), cut_blurred_crops(frames, *inputs))
        first = counter.compilations if first is None else first
    assert counter.compilations == first, counter.as_dict()
    if one_graph:
        assert counter.compilations == 1 and counter.recompilations == 0, counter.as_dict()


@pytest.mark.parametrize('blurred_count', [1, 2, 3, 4])
def test_kernel_launches_do_not_grow_with_blurred_hands(image, blurred_count):
    tracer = SimulatedCuda()
    boxes = np.concatenate((SHARP_BOX, BLURRED_BOXES[:blurred_count]))
    right = np.array([1, 0, 1, 0, 1], np.float32)[:len(boxes)]
    center, size = crop_geometry(boxes)
    with tracer:
        frame = torch.from_numpy(image).to(CUDA)
        cut_crops(frame, plan_crops(center, size, right, image.shape[:2]))  # constants cached
        tracer.reset()
        with tracer.count_kernels() as kernels:
            crops = cut_crops(frame, plan_crops(center, size, right, image.shape[:2]))
        assert crops.device == CUDA
    assert tracer.count(blocking=True) == 0, tracer.blocking()
    launches = kernels.total
    print(f'{blurred_count} blurred + 1 sharp crop: {launches} kernel launches')
    # One blurred hand, then each count: the same launches (hand-by-hand work grew per hand).
    expected = _LAUNCHES.setdefault('one', launches) if blurred_count == 1 else _LAUNCHES['one']
    assert launches == expected, (blurred_count, launches, expected, dict(kernels.ops))


_LAUNCHES = {}
