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

"""Write the clip (90 frames, 320x240, 30 fps, the fixture hands moving) and the parameters."""

import pathlib
import sys

import cv2
import numpy as np


def main(repo, work):
    """Write ``work``/clip.mp4 and ``work``/fixture_params.yaml (fixture weights, CPU)."""
    repo, work = pathlib.Path(repo).resolve(), pathlib.Path(work)
    image = np.load(repo / 'test' / 'fixtures' / 'a' / 'detector' / 'detect.npz')['image']
    small = cv2.resize(image, (320, 240))
    clip = str(work / 'clip.mp4')
    writer = cv2.VideoWriter(clip, cv2.VideoWriter_fourcc(*'mp4v'), 30, (320, 240))
    for index in range(90):
        writer.write(np.roll(small, index % 10, axis=1))
    writer.release()
    if int(cv2.VideoCapture(clip).get(cv2.CAP_PROP_FRAME_COUNT)) != 90:
        raise SystemExit(f'{clip}: not 90 frames')
    weights = repo / 'test' / 'fixtures' / 'a'
    text = (repo / 'config' / 'wilor.yaml').read_text()
    text = text.replace("detector_path: ''",
                        f"detector_path: '{weights / 'detector' / 'detector.pt'}'")
    text = text.replace("reconstructor_path: ''",
                        f"reconstructor_path: '{weights / 'wilor' / 'checkpoint.ckpt'}'")
    text = text.replace('device: auto ', 'device: cpu ')
    (work / 'fixture_params.yaml').write_text(text)
    print(f'{clip} (90 frames) and {work / "fixture_params.yaml"}')


if __name__ == '__main__':
    main(*sys.argv[1:3])
