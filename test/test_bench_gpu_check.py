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

"""bench/gpu_check.py runs on the CPU with small models and writes a complete, passing report."""

import json
import subprocess
import sys

from fixture_paths import REPO


def test_gpu_check_small_on_cpu(tmp_path):
    out = tmp_path / 'gpu_check.json'
    done = subprocess.run([sys.executable, str(REPO / 'bench' / 'gpu_check.py'), '--device',
                           'cpu', '--small', '--out', str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith('gpu_check OK')
    report = json.loads(out.read_text())
    assert report['ok'] and report['device'] == 'cpu' and report['small']
    parity = report['parity_vs_cpu_fp32']
    assert parity['fp32']['max_abs_vertices_m'] == 0.0
    assert all(entry['finite'] for entry in parity.values())
    assert 0 < parity['bf16']['max_abs_vertices_m'] < 1e-2
    paths = report['code_paths']
    assert paths['detector_and_sharp_crops'] == 2 and paths['reconstruct_device_tensors'] == 2
    assert paths['left_and_right'] == [False, True] and paths['blurred_crop']
    assert paths['process_batch'] == [2, 2] and paths['all_finite']
    waits = report['host_waits_per_frame']
    assert waits['blocking'] == 2, waits['events']
    eager = report['speed']['eager']
    timed = [eager[size][f'{hands}_hands'] for size in ('320x240', '640x480')
             for hands in (1, 2, 4)]
    timed += [eager['batch_320x240'][f'{frames}_frames'] for frames in (1, 2, 4, 8)]
    for speed in timed:
        assert speed['fps'] > 0 and speed['p99_ms'] >= speed['p50_ms'] > 0
    assert eager['batch_320x240']['8_frames']['frames_per_s'] > 0
    # No compile sections on the CPU by default, each with its reason.
    assert report['speed']['graphs'] == {}
    assert set(report['not_run']) == {'start_first', 'start_second', 'graphs', 'vs_official'}
    assert all(report['not_run'].values())
    assert set(report['stages_ms']['4_hands']) == {'detector', 'crops', 'reconstructor', 'post'}
    assert report['peak_rss_mb'] > 0
