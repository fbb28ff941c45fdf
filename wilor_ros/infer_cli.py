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
``wilor-infer``: run the WiLoR hand pipeline offline over images, videos and MCAP bags.

Inputs: an image, a folder of images, a video file, or a ROS 2 MCAP bag (``--topic`` picks the
sensor_msgs/Image or CompressedImage topic). Outputs: one JSON file per frame (default) or one
JSON Lines file (``--jsonl``), each record holding the frame index, source, stamp and
``HandResult.to_dict()`` per hand; optionally overlay images or an overlay video
(``--overlay``) and, for bags, a new MCAP bag with ``wilor_msgs/HandArray`` on ``/hands``
(``--out-bag``), each message stamped and logged like its image. ROS (rclpy) is needed only
for ``--out-bag``. A frame that cannot be decoded is reported and skipped.
"""

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import time

import numpy as np

from wilor_ros.checkpoint_io import CheckpointError
from wilor_ros.download import default_weight_paths
from wilor_ros.media_io import MediaError, open_input

_VIDEO_WRITER_CODECS = {'.mp4': 'mp4v', '.m4v': 'mp4v', '.mov': 'mp4v', '.avi': 'MJPG',
                        '.mkv': 'MJPG'}
_PRIMITIVE_TYPES = frozenset((
    'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32',
    'uint32', 'int64', 'uint64', 'string', 'wstring'))
_DEFINITION_SEPARATOR = '=' * 80


class InferError(RuntimeError):
    """A problem that stops wilor-infer; the message says what and where."""


# ---------------------------------------------------------------------------------------------
# Camera matrix


def parse_camera_matrix(text):
    """
    Return a 3x3 camera matrix from ``fx,fy,cx,cy`` or from a YAML camera file.

    YAML files may be a ``camera_calibration`` file (``camera_matrix: {data: [9 values]}``), a
    CameraInfo dump (``k:`` or ``K:`` with 9 values) or plain ``fx, fy, cx, cy`` keys.
    """
    path = pathlib.Path(text).expanduser()
    if path.suffix.lower() in ('.yaml', '.yml') or path.is_file():
        import yaml

        try:
            content = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise InferError(f'cannot read camera file {path}: {error}') from None
        if not isinstance(content, dict):
            raise InferError(f'camera file {path} holds no YAML mapping')
        values = None
        if isinstance(content.get('camera_matrix'), dict):
            values = content['camera_matrix'].get('data')
        elif content.get('k') is not None or content.get('K') is not None:
            values = content.get('k') if content.get('k') is not None else content.get('K')
        elif all(key in content for key in ('fx', 'fy', 'cx', 'cy')):
            values = [content['fx'], 0, content['cx'], 0, content['fy'], content['cy'], 0, 0, 1]
        try:
            matrix = np.asarray(values, dtype=np.float64).reshape(3, 3)
        except (TypeError, ValueError):
            raise InferError(
                f'camera file {path}: expected camera_matrix.data (9 values), k / K (9 values) '
                'or fx, fy, cx, cy') from None
    else:
        try:
            fx, fy, cx, cy = (float(value) for value in text.split(','))
        except ValueError:
            raise InferError(f'--camera-matrix {text!r}: expected fx,fy,cx,cy in pixels or a '
                             'YAML camera file') from None
        matrix = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    if not (matrix[0, 0] > 0 and matrix[1, 1] > 0):
        raise InferError(f'camera matrix from {text}: fx and fy must be positive')
    return matrix


# ---------------------------------------------------------------------------------------------
# ROS 2 message definitions for the output bag


def _share_directories():
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    prefixes.append(sys.prefix)
    return [pathlib.Path(prefix) / 'share' for prefix in prefixes]


def _read_msg_file(package, name):
    candidates = [share / package / 'msg' / f'{name}.msg' for share in _share_directories()]
    # The interface sources of this repository, for a checkout that is not installed.
    candidates.append(pathlib.Path(__file__).resolve().parent.parent / package / 'msg'
                      / f'{name}.msg')
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text()
    raise InferError(f'cannot find the definition of {package}/msg/{name} (looked for '
                     f'share/{package}/msg/{name}.msg under AMENT_PREFIX_PATH and {sys.prefix})')


def _field_types(package, text):
    """Non-primitive field types of a .msg text as ``pkg/Name``, in order of appearance."""
    found = []
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        type_name = line.split()[0].split('[', 1)[0].split('<=', 1)[0]
        if type_name in _PRIMITIVE_TYPES:
            continue
        parts = type_name.split('/')
        if len(parts) == 1:
            # A bare name is a type of the same package (Header: the ROS 1 shorthand).
            full = 'std_msgs/Header' if type_name == 'Header' else f'{package}/{type_name}'
        else:
            full = f'{parts[0]}/{parts[-1]}'
        if full not in found:
            found.append(full)
    return found


def message_definition(type_name):
    """
    Return the ``ros2msg`` schema text of a message type with all its dependencies.

    ``type_name`` is ``pkg/msg/Name``. The layout is the one ``ros2 bag record`` writes into
    MCAP files: the type's own .msg text, then per dependency a line of 80 ``=``, a line
    ``MSG: pkg/Name`` and that type's .msg text.
    """
    package, _, name = type_name.split('/')
    text = _read_msg_file(package, name)
    dependencies, pending = [], _field_types(package, text)
    texts = {}
    while pending:
        dependency = pending.pop(0)
        if dependency in texts:
            continue
        dep_package, dep_name = dependency.split('/')
        texts[dependency] = _read_msg_file(dep_package, dep_name)
        dependencies.append(dependency)
        pending.extend(_field_types(dep_package, texts[dependency]))
    parts = [text.rstrip('\n')]
    for dependency in dependencies:
        parts.append(f'{_DEFINITION_SEPARATOR}\nMSG: {dependency}\n'
                     f'{texts[dependency].rstrip(chr(10))}')
    return '\n'.join(parts) + '\n'


class HandBagWriter:
    """Write ``wilor_msgs/HandArray`` messages into a new MCAP bag (CDR, ros2msg schema)."""

    def __init__(self, path, topic='/hands'):
        """Create the bag at ``path`` with the HandArray schema and one channel on ``topic``."""
        from mcap.writer import Writer
        from rclpy.serialization import serialize_message
        from std_msgs.msg import Header

        from wilor_ros.hand_messages import hands_to_msg

        self._hands_to_msg = hands_to_msg
        self._serialize = serialize_message
        self._header_type = Header
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stream = open(self.path, 'wb')
        self._writer = Writer(self._stream)
        self._writer.start(profile='ros2', library='wilor_ros wilor-infer')
        schema = self._writer.register_schema(
            name='wilor_msgs/msg/HandArray', encoding='ros2msg',
            data=message_definition('wilor_msgs/msg/HandArray').encode())
        self._channel = self._writer.register_channel(topic=topic, message_encoding='cdr',
                                                      schema_id=schema)
        self.count = 0

    def write(self, hands, frame):
        """Write the hands of a bag frame, stamped and logged like the image."""
        header = self._header_type()
        header.stamp.sec = int(frame.stamp_ns // 1_000_000_000)
        header.stamp.nanosec = int(frame.stamp_ns % 1_000_000_000)
        header.frame_id = frame.frame_id
        data = self._serialize(self._hands_to_msg(hands, header))
        self._writer.add_message(self._channel, log_time=frame.log_time_ns, data=data,
                                 publish_time=frame.log_time_ns, sequence=self.count)
        self.count += 1

    def close(self):
        """Write the summary and close the file."""
        self._writer.finish()
        self._stream.close()


# ---------------------------------------------------------------------------------------------
# Outputs


def _stamp_dict(stamp_ns):
    if stamp_ns is None:
        return None
    return {'sec': int(stamp_ns // 1_000_000_000), 'nanosec': int(stamp_ns % 1_000_000_000)}


def frame_record(frame, hands, camera_matrix):
    """JSON-ready record of one processed frame."""
    height, width = frame.image.shape[:2]
    return {
        'frame': frame.index,
        'source': frame.source,
        'stamp': _stamp_dict(frame.stamp_ns),
        'frame_id': frame.frame_id,
        'image_size': [int(width), int(height)],
        'camera_matrix': None if camera_matrix is None else np.asarray(camera_matrix).tolist(),
        'hands': [hand.to_dict() for hand in hands],
    }


class JsonOutput:
    """One JSON file per frame in a folder, or one JSON Lines file (``-`` = stdout)."""

    def __init__(self, path, jsonl):
        """Open the JSON Lines file, or create the folder for per-frame files."""
        self.jsonl = jsonl
        self.path = path
        if jsonl:
            if str(path) == '-':
                self._stream = sys.stdout
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._stream = open(path, 'w')
        else:
            path.mkdir(parents=True, exist_ok=True)
            self._stream = None

    def write(self, record):
        """Write one frame record."""
        if self.jsonl:
            self._stream.write(json.dumps(record) + '\n')
        else:
            target = self.path / f'frame_{record["frame"]:06d}.json'
            target.write_text(json.dumps(record, indent=1) + '\n')

    def close(self):
        """Flush and close the JSON Lines file."""
        if self._stream is not None and self._stream is not sys.stdout:
            self._stream.close()
        elif self._stream is not None:
            self._stream.flush()


class OverlayOutput:
    """Overlay images into a folder, or an overlay video (``.mp4`` / ``.avi`` ...)."""

    def __init__(self, path, fps, faces):
        """Prepare the output; ``faces`` are the MANO triangles for the meshes."""
        from wilor_ros import debug_overlay

        self._draw = debug_overlay.draw_hands
        self.faces = faces
        self.path = pathlib.Path(path)
        self.fps = fps or 30.0
        self.video = self.path.suffix.lower() in _VIDEO_WRITER_CODECS
        self._writer = None
        self._size = None
        if not self.video:
            self.path.mkdir(parents=True, exist_ok=True)

    def write(self, frame, hands, camera_matrix=None):
        """Draw the hands over the frame and store the picture."""
        import cv2

        picture = self._draw(frame.image, hands, faces=self.faces, camera_matrix=camera_matrix)
        if not self.video:
            cv2.imwrite(str(self.path / f'frame_{frame.index:06d}.jpg'), picture)
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._size = (picture.shape[1], picture.shape[0])
            codec = cv2.VideoWriter_fourcc(*_VIDEO_WRITER_CODECS[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self.path), codec, self.fps, self._size)
            if not self._writer.isOpened():
                raise InferError(f'cannot write the overlay video {self.path}')
        if (picture.shape[1], picture.shape[0]) != self._size:
            picture = cv2.resize(picture, self._size)
        self._writer.write(picture)

    def close(self):
        """Finish the video file."""
        if self._writer is not None:
            self._writer.release()


class FrameProgress:
    """Plain-text frame counter on stderr: redrawn on a terminal, every 10 % otherwise."""

    def __init__(self, total, stream=None):
        """Count towards ``total`` frames (None: unknown)."""
        self.total = total
        self.stream = stream or sys.stderr
        self.interactive = bool(getattr(self.stream, 'isatty', lambda: False)())
        self.done = 0
        self.hands = 0
        self._start = time.monotonic()
        self._last = 0.0
        self._decile = 0

    def update(self, frames, hands):
        """Count processed frames and hands, and redraw when due."""
        self.done += frames
        self.hands += hands
        now = time.monotonic()
        if self.interactive and now - self._last >= 0.2:
            self._draw(now, '\r')
        elif not self.interactive and self.total:
            decile = int(10 * self.done / self.total)
            if decile > self._decile:
                self._decile = decile
                self._draw(now, '\n')

    def close(self):
        """End the progress line."""
        if self.interactive:
            self._draw(time.monotonic(), '\n')

    def _draw(self, now, end):
        self._last = now
        rate = self.done / max(now - self._start, 1e-6)
        total = f'/{self.total} ({100 * self.done / self.total:.0f}%)' if self.total else ''
        self.stream.write(f'frames {self.done}{total}, {self.hands} hands, {rate:.1f} fps'
                          + end)
        self.stream.flush()


# ---------------------------------------------------------------------------------------------
# Pipeline


def resolve_device(name):
    """Map 'auto' to 'cuda' when a GPU is available, else 'cpu'."""
    if name != 'auto':
        return name
    import torch

    return 'cuda' if torch.cuda.is_available() else 'cpu'


def build_pipeline(args):
    """Load both networks and build the HandPipeline from the command-line options."""
    defaults = default_weight_paths()
    detector_path = pathlib.Path(args.detector or defaults['detector'])
    reconstructor_path = pathlib.Path(args.reconstructor or defaults['reconstructor'])
    for what, path, flag in (('detector', detector_path, '--detector'),
                             ('reconstructor', reconstructor_path, '--reconstructor')):
        if not path.is_file():
            raise InferError(f'{what} weights not found at {path}: run wilor-download, or pass '
                             f'{flag} PATH')
    from wilor_ros.detector import load_detector
    from wilor_ros.pipeline import HandPipeline
    from wilor_ros.reconstructor import load_reconstructor

    device = resolve_device(args.device)
    try:
        detector = load_detector(detector_path, device)
        reconstructor = load_reconstructor(reconstructor_path, device, dtype=args.precision)
    except CheckpointError as error:
        raise InferError(f'{error} (run wilor-download --check)') from None
    return HandPipeline(detector, reconstructor, conf=args.conf, iou=args.iou,
                        rescale_factor=args.rescale_factor, max_hands=args.max_hands)


def run_batch(pipe, images, cameras, compute_vertices):
    """Run the pipeline over several frames; one batched call when the pipeline offers one."""
    batched = getattr(pipe, 'process_batch', None)
    if batched is not None and len(images) > 1:
        return batched(images, camera_matrices=cameras, compute_vertices=compute_vertices)
    return [pipe(image, camera_matrix=camera, compute_vertices=compute_vertices)
            for image, camera in zip(images, cameras)]


# ---------------------------------------------------------------------------------------------
# Command line


def build_parser():
    """Command-line interface of ``wilor-infer``."""
    parser = argparse.ArgumentParser(
        prog='wilor-infer',
        description='Run WiLoR 3D hand reconstruction over an image, a folder of images, a '
                    'video file or a ROS 2 MCAP bag.')
    parser.add_argument('input', help='image, folder of images, video file or .mcap bag')
    parser.add_argument('-o', '--output', default=None,
                        help='JSON folder (default INPUT_wilor/) or, with --jsonl, a .jsonl file '
                             '(default INPUT_wilor.jsonl); "-" = JSON Lines on stdout')
    parser.add_argument('--jsonl', action='store_true', help='one JSON Lines file')
    parser.add_argument('--topic', default=None, help='image topic of a bag (default: the '
                        'only sensor_msgs/Image or CompressedImage topic)')
    parser.add_argument('--camera-info-topic', default='auto',
                        help='CameraInfo topic of a bag for the camera matrix ("auto": the '
                             'camera_info next to the image topic; "none": ignore)')
    parser.add_argument('--camera-matrix', default=None,
                        help='fx,fy,cx,cy in pixels, or a YAML camera file; default: the '
                             "bag's camera_info, else WiLoR's focal heuristic")
    parser.add_argument('--overlay', default=None,
                        help='folder for overlay images, or a video file (.mp4, .avi)')
    parser.add_argument('--out-bag', default=None,
                        help='for bag input: write wilor_msgs/HandArray to this new MCAP file')
    parser.add_argument('--out-topic', default='/hands', help='topic in --out-bag')
    parser.add_argument('--detector', default=None, help='detector.pt (default: the '
                        'wilor-download cache)')
    parser.add_argument('--reconstructor', default=None, help='wilor_final.ckpt (default: '
                        'the wilor-download cache)')
    parser.add_argument('--device', default='auto', help='auto, cpu, cuda or cuda:N')
    parser.add_argument('--precision', default='fp32', choices=('fp32', 'fp16', 'bf16'),
                        help='reconstructor network precision (fp16 / bf16 pay off on GPUs)')
    parser.add_argument('--conf', type=float, default=0.3, help='detector confidence threshold')
    parser.add_argument('--iou', type=float, default=0.7, help='detector NMS IoU threshold')
    parser.add_argument('--rescale-factor', type=float, default=2.0,
                        help='crop size relative to the box (WiLoR: 2.0)')
    parser.add_argument('--max-hands', type=int, default=10, help='hands per frame at most')
    parser.add_argument('--batch', type=int, default=1, help='frames per reconstructor call')
    parser.add_argument('--vertices', action='store_true',
                        help='compute and store the 778 MANO vertices per hand')
    parser.add_argument('--track', action='store_true', help='give hands stable track ids')
    parser.add_argument('--quiet', action='store_true', help='no progress output')
    return parser


def _default_output(input_path, jsonl):
    stem = pathlib.Path(str(input_path).rstrip('/')).name
    stem = pathlib.Path(stem).stem if not pathlib.Path(str(input_path)).is_dir() else stem
    return pathlib.Path(f'{stem}_wilor.jsonl' if jsonl else f'{stem}_wilor')


def _report(message):
    print(f'wilor-infer: {message}', file=sys.stderr, flush=True)


def run(args):
    """Process the input described by parsed ``args``; return the exit status."""
    if args.batch < 1:
        raise InferError('--batch must be at least 1')
    camera_info_topic = None if args.camera_info_topic == 'none' else args.camera_info_topic
    frames = open_input(args.input, topic=args.topic, camera_info_topic=camera_info_topic)
    if frames.kind == 'camera':
        raise InferError(f'{args.input} is a webcam; wilor-infer reads files (use wilor_source '
                         'and wilor_node for live cameras)')
    if args.out_bag and frames.kind != 'bag':
        raise InferError('--out-bag needs an .mcap bag as input')
    fixed_camera = parse_camera_matrix(args.camera_matrix) if args.camera_matrix else None
    pipe = build_pipeline(args)
    tracker = None
    if args.track:
        from wilor_ros.tracking import HandTracker

        tracker = HandTracker()
    if args.output == '-':
        output = JsonOutput('-', jsonl=True)
    else:
        output = JsonOutput(pathlib.Path(args.output) if args.output
                            else _default_output(args.input, args.jsonl), args.jsonl)
    overlay = bag = None
    try:
        if args.overlay:
            overlay = OverlayOutput(args.overlay, frames.fps, pipe.faces)
        if args.out_bag:
            bag = HandBagWriter(args.out_bag, args.out_topic)
        progress = None if args.quiet else FrameProgress(frames.count)
        processed = skipped = 0
        pending = []

        def flush():
            nonlocal processed
            cameras = [fixed_camera if fixed_camera is not None else frame.camera_matrix
                       for frame in pending]
            # The overlay draws meshes, so vertices are computed for it even when the records
            # leave them out.
            with_vertices = args.vertices or overlay is not None
            try:
                results = run_batch(pipe, [frame.image for frame in pending], cameras,
                                    with_vertices)
            except (ValueError, RuntimeError) as error:
                if len(pending) == 1:
                    raise
                _report(f'batch failed ({error}); retrying frame by frame')
                results = [run_batch(pipe, [frame.image], [camera], with_vertices)[0]
                           for frame, camera in zip(pending, cameras)]
            for frame, camera, hands in zip(pending, cameras, results):
                if tracker is not None:
                    hands = tracker.update(hands, _frame_seconds(frame, frames.fps))
                if overlay is not None:
                    overlay.write(frame, hands, camera)
                if with_vertices and not args.vertices:
                    hands = [dataclasses.replace(hand, vertices=None) for hand in hands]
                output.write(frame_record(frame, hands, camera))
                if bag is not None:
                    bag.write(hands, frame)
                processed += 1
                if progress is not None:
                    progress.update(1, len(hands))
            pending.clear()

        for frame in frames:
            if frame.image is None:
                skipped += 1
                if progress is not None:
                    progress.update(1, 0)
                _report(f'frame {frame.index} ({frame.source}) skipped: {frame.error}')
                continue
            pending.append(frame)
            if len(pending) >= args.batch:
                flush()
        if pending:
            flush()
        if progress is not None:
            progress.close()
    finally:
        output.close()
        if overlay is not None:
            overlay.close()
        if bag is not None:
            bag.close()
    _report(f'{processed} frames processed, {skipped} skipped; results in {output.path}'
            + (f'; hands bag {bag.path}' if bag is not None else ''))
    if processed == 0:
        _report('no frame could be processed')
        return 1
    return 0


def _frame_seconds(frame, fps):
    if frame.stamp_ns is not None:
        return frame.stamp_ns / 1e9
    return frame.index / (fps or 30.0)


def main(argv=None):
    """Entry point of ``wilor-infer``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (InferError, MediaError) as error:
        _report(f'error: {error}')
        return 1
    except KeyboardInterrupt:
        _report('interrupted')
        return 130


if __name__ == '__main__':
    sys.exit(main())
