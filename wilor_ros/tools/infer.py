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
JSON Lines file (``--jsonl``), each record holding the frame index, source, stamp and per hand
the fields of ``wilor_msgs/Hand`` (:mod:`wilor_ros.hand_schema`); optionally overlay images or
an overlay video (``--overlay``) and, for bags, a new MCAP bag with ``wilor_msgs/HandArray`` on
``/hands`` (``--out-bag``), each message stamped and logged like its image, preceded by the
mesh triangles (``wilor_msgs/MeshFaces``) on ``/mano_faces``. ROS (rclpy) is needed only
for ``--out-bag``. ``--depth-topic`` fuses a bag's aligned depth images (16UC1 mm / 32FC1 m,
paired by stamp) so the hands sit at the measured depth; ``--track`` lets the tracker decide
each hand's side before it is cropped (frames then run one by one). A frame that cannot be
decoded is reported and skipped. ``--gestures`` and ``--retarget ROBOT --urdf-dir DIR`` add each
hand's gesture and the robot-hand joint trajectory to the records
(:mod:`wilor_ros.tools.robot_outputs`). Several ``--topic`` of a bag, or ``--fuse FRAME``, run
its cameras together and fuse their hands as the node does (:mod:`wilor_ros.tools.infer_cameras`).
"""

import argparse
import collections
import dataclasses
import pathlib
import sys

from wilor_ros.backends import BACKENDS
from wilor_ros.camera import CameraError, parse_camera_spec
from wilor_ros.hand_stream import CameraFrame, HandStream, TrackingOptions
from wilor_ros.loading import load_pipeline, PipelineLoadError
from wilor_ros.media_io import MediaError, open_input
from wilor_ros.options import GRAPH_MODES, PipelineOptions
from wilor_ros.precision import PRECISIONS
from wilor_ros.stamps import nanoseconds_to_seconds
from wilor_ros.tools import infer_cameras, interrupt_on_sigterm, robot_outputs
from wilor_ros.tools.infer_outputs import (frame_record, FrameProgress, InferError, JsonOutput,
                                           OverlayOutput)
from wilor_ros.weights import default_weight_paths


def build_pipeline(args):
    """Load both networks and build the HandPipeline from the command-line options."""
    defaults = default_weight_paths()
    try:
        options = PipelineOptions(device=args.device, precision=args.precision,
                                  compile=getattr(args, 'compile', False), conf=args.conf,
                                  iou=args.iou, rescale_factor=args.rescale_factor,
                                  max_hands=args.max_hands,
                                  backend=getattr(args, 'backend', 'torch'),
                                  graph_mode=getattr(args, 'graph_mode', 'compile'))
        return load_pipeline(args.detector or defaults['detector'],
                             args.reconstructor or defaults['reconstructor'], options)
    except ValueError as error:
        raise InferError(str(error)) from None
    except PipelineLoadError as error:
        raise InferError(str(error)) from None


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
    parser.add_argument('--topic', action='append', default=None,
                        help='image topic of a bag (default: the only sensor_msgs/Image or '
                        'CompressedImage topic); repeat it for several cameras')
    parser.add_argument('--camera-info-topic', default='auto',
                        help='CameraInfo topic of a bag for the camera matrix ("auto": the '
                             'camera_info next to the image topic; "none": ignore)')
    parser.add_argument('--depth-topic', default=None,
                        help='aligned depth image topic of a bag (16UC1 mm or 32FC1 m, e.g. '
                             '/camera/aligned_depth_to_color/image_raw): hands at the measured '
                             'depth; needs a camera matrix')
    parser.add_argument('--depth-tolerance', type=float, default=0.02,
                        help='largest stamp difference (s) between an image and its depth')
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
    parser.add_argument('--precision', default='auto', choices=PRECISIONS,
                        help='reconstructor network precision: auto = bf16 on CUDA, fp32 on '
                        'the CPU; fp32 is strict IEEE float32')
    parser.add_argument('--compile', action='store_true', help='torch.compile both networks '
                        '(CUDA graphs, static batches); pays off on long videos on a GPU')
    parser.add_argument('--graph-mode', default='compile', choices=GRAPH_MODES,
                        help='with --compile: compile (torch.compile, minutes the first time) '
                        'or capture (CUDA graphs recorded from the eager networks in seconds; '
                        'CUDA only)')
    parser.add_argument('--backend', default='torch', choices=BACKENDS,
                        help='who runs the networks: torch, onnxruntime (fp32 exports) or '
                        'tensorrt (engines built on this GPU); see wilor-export')
    parser.add_argument('--conf', type=float, default=0.3, help='detector confidence threshold')
    parser.add_argument('--iou', type=float, default=0.7, help='detector NMS IoU threshold')
    parser.add_argument('--rescale-factor', type=float, default=2.0,
                        help='crop size relative to the box (WiLoR: 2.0)')
    parser.add_argument('--max-hands', type=int, default=10, help='hands per frame at most')
    parser.add_argument('--batch', type=int, default=1, help='frames per reconstructor call')
    parser.add_argument('--overlap', action='store_true',
                        help='on a GPU, detect the next batch on a second CUDA stream while '
                        "this one's reconstructor runs (same results; not yet timed on a GPU: "
                        'bench/gpu_check.py measures it)')
    parser.add_argument('--vertices', action='store_true',
                        help='compute and store the 778 MANO vertices per hand')
    parser.add_argument('--track', action='store_true', help='give hands stable track ids')
    parser.add_argument('--quiet', action='store_true', help='no progress output')
    robot_outputs.add_arguments(parser)
    infer_cameras.add_arguments(parser)
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
    if infer_cameras.wanted(args):
        return infer_cameras.run(args, build_pipeline, _default_output(args.input, args.jsonl),
                                 _report)
    camera_info_topic = None if args.camera_info_topic == 'none' else args.camera_info_topic
    topic = args.topic[0] if args.topic else None
    frames = open_input(args.input, topic=topic, camera_info_topic=camera_info_topic,
                        depth_topic=args.depth_topic, depth_tolerance=args.depth_tolerance)
    if args.depth_topic and frames.kind != 'bag':
        raise InferError('--depth-topic needs an .mcap bag as input')
    if frames.kind == 'camera':
        raise InferError(f'{args.input} is a webcam; wilor-infer reads files (use wilor_source '
                         'and wilor_node for live cameras)')
    if args.out_bag and frames.kind != 'bag':
        raise InferError('--out-bag needs an .mcap bag as input')
    fixed_camera = None
    if args.camera_matrix:
        try:
            fixed_camera = parse_camera_spec(args.camera_matrix).matrix
        except CameraError as error:
            raise InferError(f'--camera-matrix: {error}') from None
    try:
        robot = robot_outputs.RobotOutputs(args)
    except ValueError as error:
        raise InferError(str(error)) from None
    pipe = build_pipeline(args)
    # The tracker's defaults are HandTracker's; frames of the one input are one camera ('').
    stream = HandStream(pipe, TrackingOptions() if args.track else None, robot.steps)
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
            from wilor_ros.ros.bag_writer import HandBagWriter

            bag = HandBagWriter(args.out_bag, args.out_topic, faces=pipe.faces)
        progress = None if args.quiet else FrameProgress(frames.count)
        processed = skipped = 0
        warned = {'depth': False}
        # The overlay draws meshes, so vertices are computed for it even when the records
        # leave them out.
        with_vertices = args.vertices or overlay is not None
        taken = collections.deque()  # (frames, camera matrices) of each batch, in order

        def batch_of(pending):
            cameras = [fixed_camera if fixed_camera is not None else frame.camera_matrix
                       for frame in pending]
            # Depth is fused only with a real camera matrix (else the hands are not metric).
            depths = [frame.depth if camera is not None else None
                      for frame, camera in zip(pending, cameras)]
            if any(f.depth is not None and d is None for f, d in zip(pending, depths)) \
                    and not warned['depth']:
                warned['depth'] = True
                _report('depth images ignored: fusing them needs a camera matrix '
                        "(--camera-matrix or the bag's camera_info)")
            taken.append((pending, cameras))
            return [CameraFrame(image=frame.image, stamp=_frame_seconds(frame, frames.fps),
                                camera_matrix=camera, depth=depth)
                    for frame, camera, depth in zip(pending, cameras, depths)]

        def batches():
            nonlocal skipped
            pending = []
            for frame in frames:
                if frame.image is None:
                    skipped += 1
                    if progress is not None:
                        progress.update(1, 0)
                    _report(f'frame {frame.index} ({frame.source}) skipped: {frame.error}')
                    continue
                pending.append(frame)
                # The tracker decides each hand's side before its crop is mirrored; it must
                # have seen the previous frame, so tracked frames run one at a time.
                if len(pending) >= (1 if args.track else args.batch):
                    yield batch_of(pending)
                    pending = []
            if pending:
                yield batch_of(pending)

        def retry(batch, error):
            if len(batch) == 1:
                raise error
            _report(f'batch failed ({error}); retrying frame by frame')
            return [stream.process([one], with_vertices)[0] for one in batch]

        def one_by_one():
            for batch in batches():
                try:
                    yield stream.process(batch, with_vertices)
                except (ValueError, RuntimeError) as error:
                    yield retry(batch, error)

        results_of_batches = (stream.process_stream(batches(), with_vertices, retry)
                              if args.overlap else one_by_one())
        for results in results_of_batches:
            pending, cameras = taken.popleft()
            for frame, camera, result in zip(pending, cameras, results):
                hands = result.hands
                if overlay is not None:
                    overlay.write(frame, hands, camera)
                if with_vertices and not args.vertices:
                    hands = [dataclasses.replace(hand, vertices=None) for hand in hands]
                record = frame_record(frame, hands, camera)
                robot.annotate(record, result)
                output.write(record)
                if bag is not None:
                    bag.write(hands, frame)
                processed += 1
                if progress is not None:
                    progress.update(1, len(hands))
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
        return nanoseconds_to_seconds(frame.stamp_ns)
    return frame.index / (fps or 30.0)


def main(argv=None):
    """Entry point of ``wilor-infer``; returns the exit status."""
    interrupt_on_sigterm()
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (InferError, MediaError, RuntimeError) as error:
        _report(f'error: {error}')
        return 1
    except KeyboardInterrupt:
        _report('interrupted')
        return 130


if __name__ == '__main__':
    sys.exit(main())
