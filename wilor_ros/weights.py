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
Where the WiLoR weights live: file names, the cache directory, the download addresses.

One owner for these facts: the node's parameter defaults, ``wilor-infer``, ``wilor-download``
and every "weights not found" message read them from here.
"""

import os
import pathlib

DEFAULT_BASE_URL = ('https://huggingface.co/spaces/rolpotamias/WiLoR/resolve/main/'
                    'pretrained_models')
DETECTOR_FILENAME = 'detector.pt'
RECONSTRUCTOR_FILENAME = 'wilor_final.ckpt'
# Which weight file is which, in download order; the words are those of the error messages.
WEIGHT_KINDS = {
    'detector': (DETECTOR_FILENAME, 'detector'),
    'reconstructor': (RECONSTRUCTOR_FILENAME, 'WiLoR checkpoint'),
}

LICENCE_NOTICE = """\
wilor_ros downloads the WiLoR weights published by the WiLoR authors
(R. A. Potamias, J. Zhang, J. Deng, S. Zafeiriou; https://github.com/rolpotamias/WiLoR):
  * detector.pt and wilor_final.ckpt are licensed CC BY-NC-ND 4.0: NON-COMMERCIAL use only,
    no distribution of modified weights (https://creativecommons.org/licenses/by-nc-nd/4.0/).
  * The reconstructor embeds the MANO hand model, which has its own licence (non-commercial
    research use; register and accept it at https://mano.is.tue.mpg.de).
By using these files you accept both licences. (This notice is shown once.)"""


def default_weights_dir():
    """Return the weight cache directory: ``$WILOR_ROS_CACHE`` or ``~/.cache/wilor_ros``."""
    configured = os.environ.get('WILOR_ROS_CACHE')
    if configured:
        return pathlib.Path(configured).expanduser()
    return pathlib.Path('~/.cache/wilor_ros').expanduser()


def default_weight_paths(directory=None):
    """Return ``{'detector': PATH, 'reconstructor': PATH}`` inside the cache directory."""
    directory = pathlib.Path(directory) if directory else default_weights_dir()
    return {key: directory / filename for key, (filename, _) in WEIGHT_KINDS.items()}


def weight_urls(base_url=None, detector_url=None, reconstructor_url=None):
    """
    Return ``{'detector': URL, 'reconstructor': URL}``.

    Explicit arguments win over the environment (``WILOR_ROS_BASE_URL``,
    ``WILOR_ROS_DETECTOR_URL``, ``WILOR_ROS_RECONSTRUCTOR_URL``), which wins over the official
    Hugging Face address.
    """
    base = (base_url or os.environ.get('WILOR_ROS_BASE_URL') or DEFAULT_BASE_URL).rstrip('/')
    return {
        'detector': (detector_url or os.environ.get('WILOR_ROS_DETECTOR_URL')
                     or f'{base}/{DETECTOR_FILENAME}'),
        'reconstructor': (reconstructor_url or os.environ.get('WILOR_ROS_RECONSTRUCTOR_URL')
                          or f'{base}/{RECONSTRUCTOR_FILENAME}'),
    }


def missing_weights_hint():
    """Return the command that fetches the weights, for messages naming a bad or missing file."""
    return ('download the WiLoR weights with "wilor-download" (in a ROS install: '
            '"ros2 run wilor_ros wilor-download"), or give the path of a complete file')
