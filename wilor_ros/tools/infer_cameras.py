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
``wilor-infer`` on a multi-camera bag: several image topics, optionally fused as the node does.

``--topic`` given more than once, or ``--fuse FRAME`` (without ``--topic``: every image topic of
the bag), reads the cameras together (:class:`~wilor_ros.bag_cameras.BagCameras`; a camera is
named by its topic's namespace, its camera matrix comes from the ``camera_info`` next to its
images), groups their frames by stamp (:class:`~wilor_ros.stamp_batches.StampBatches`, within
``--sync-tolerance``) and runs each group through one :class:`~wilor_ros.hand_stream.HandStream`
batch, as the node's worker does. With ``--fuse FRAME`` the after-tracking steps start with the
node's :class:`~wilor_ros.multiview.MultiViewFusion`, the camera poses from the bag's
``/tf_static`` or ``--extrinsics FILE`` (:func:`~wilor_ros.static_poses.fixed_camera_pose`,
the node's rule).

Outputs: per camera and frame the usual record plus ``camera``, ``topic`` and ``fused: false``;
per batch with a posed camera one ``fused: true`` record (``infer_outputs.fused_record``); with
``--out-bag`` a HandArray on ``<camera namespace><--out-topic>`` per camera and on
``/hands_fused`` (header: FRAME and the reference stamp, as the node publishes it).
A camera without a pose is left out of the fusion with one warning line; batches that lack a
camera are counted and reported at the end.
"""

import collections
import dataclasses
import pathlib

from wilor_ros.bag_cameras import BagCameras, read_static_transforms, TF_STATIC
from wilor_ros.bag_input import image_topics
from wilor_ros.extrinsics import ExtrinsicsError, load_extrinsics
from wilor_ros.hand_stream import CameraFrame, HandStream, TrackingOptions
from wilor_ros.multiview import DEFAULT_SYNC_TOLERANCE, MultiViewFusion
from wilor_ros.stamp_batches import StampBatches
from wilor_ros.stamps import nanoseconds_to_seconds, seconds_to_nanoseconds
from wilor_ros.static_poses import fixed_camera_pose
from wilor_ros.tools import robot_outputs
from wilor_ros.tools.infer_outputs import (frame_record, FrameProgress, fused_record, InferError,
                                           JsonOutput)

FUSED_TOPIC = '/hands_fused'


def add_arguments(parser):
    """Add the multi-camera options to ``wilor-infer``'s parser."""
    parser.add_argument('--fuse', default=None, metavar='FRAME',
                        help="fuse the bag's cameras into one hand per physical hand in FRAME "
                        '(as the node on hands_fused); the cameras: each --topic, default '
                        'every image topic')
    parser.add_argument('--extrinsics', default=None, metavar='FILE',
                        help="with --fuse: camera poses from this YAML file (the node's "
                        "fusion.extrinsics) instead of the bag's /tf_static")
    parser.add_argument('--sync-tolerance', type=float, default=DEFAULT_SYNC_TOLERANCE,
                        help='several cameras: largest stamp difference (s) of the frames '
                        'processed (and fused) together')


def wanted(args):
    """Return True when the options ask for several cameras or a fusion."""
    return bool(args.fuse) or len(args.topic or []) > 1


def _check_options(args):
    refused = [(args.depth_topic, '--depth-topic'), (args.overlay, '--overlay'),
               (args.camera_matrix, '--camera-matrix (each camera has its camera_info)')]
    for value, option in refused:
        if value:
            raise InferError(f'{option} works with one camera, not with several --topic or '
                             '--fuse')
    if args.camera_info_topic not in ('auto', 'none'):
        raise InferError('--camera-info-topic: with several cameras only "auto" (each '
                         "camera's camera_info) or \"none\"")
    if args.fuse and args.camera_info_topic == 'none':
        raise InferError('--fuse needs every camera matrix: --camera-info-topic none refused')
    if args.extrinsics and not args.fuse:
        raise InferError('--extrinsics is for --fuse FRAME')
    if not args.sync_tolerance >= 0:
        raise InferError('--sync-tolerance must be at least 0')


def _bag_path(spec):
    path = pathlib.Path(str(spec)).expanduser()
    if path.is_dir() and len(list(path.glob('*.mcap'))) == 1:
        return next(path.glob('*.mcap'))  # A rosbag2 directory (metadata.yaml + one .mcap).
    if path.suffix.lower() != '.mcap':
        raise InferError(f'{path}: several --topic and --fuse need an .mcap bag as input')
    return path


class _BagPoses:
    """``pose(camera, stamp)`` from the extrinsics or the bag's static tree; frames as seen."""

    def __init__(self, frame, extrinsics, static):
        self.frame = frame
        self.extrinsics = extrinsics
        self.static = static
        self.optical_frames = {}  # camera -> its images' frame_id

    def pose(self, camera, stamp):
        return fixed_camera_pose(self.frame, camera, self.optical_frames.get(camera),
                                 self.extrinsics, self.static)


def camera_poses(args, path):
    """Return the camera pose source of ``--fuse``; InferError when FRAME cannot be reached."""
    if args.extrinsics:
        try:
            return _BagPoses(args.fuse, load_extrinsics(args.extrinsics, args.fuse), None)
        except ExtrinsicsError as error:
            raise InferError(str(error).replace('fusion.extrinsics', '--extrinsics')) from None
    static = read_static_transforms(path)
    if static is None:
        raise InferError(f'{path} has no {TF_STATIC}: give the camera poses in --fuse frame '
                         f'{args.fuse!r} with --extrinsics FILE')
    frames = static.frames()
    if args.fuse.lstrip('/') not in frames:
        raise InferError(f"--fuse frame {args.fuse!r} is not in the bag's {TF_STATIC} (frames: "
                         f'{", ".join(sorted(frames))}); name one of them or give --extrinsics '
                         'FILE')
    return _BagPoses(args.fuse, None, static)


class _WarnOnce:
    """The fusion's warnings, each text once (a missing pose would repeat every batch)."""

    def __init__(self, report):
        self.report = report
        self.seen = set()

    def __call__(self, kind, text):
        if text not in self.seen:
            self.seen.add(text)
            self.report(f'warning: {text}')


def run(args, build_pipeline, default_output, report):
    """Process the cameras of the bag ``args.input``; return the exit status."""
    _check_options(args)
    path = _bag_path(args.input)
    topics = args.topic or image_topics(path)
    if not topics:
        raise InferError(f'{path} has no image topic')
    camera_info_topic = None if args.camera_info_topic == 'none' else 'auto'
    cameras = BagCameras(path, topics, camera_info_topic)
    steps, poses, fusion = [], None, None
    if args.fuse:
        for name, images in cameras.cameras.items():
            if images.camera_info_topic is None:
                raise InferError(f'camera {name!r} ({images.topic}) has no CameraInfo next to '
                                 'its images (expected '
                                 f'{images.topic.rsplit("/", 1)[0]}/camera_info); --fuse '
                                 'needs every camera matrix')
        poses = camera_poses(args, path)
        fusion = MultiViewFusion(args.fuse, poses.pose, sync_tolerance=args.sync_tolerance,
                                 warn=_WarnOnce(report))
        steps.append(fusion)  # First, as in the node (after_tracking.py).
    try:
        robot = robot_outputs.RobotOutputs(args)
    except ValueError as error:
        raise InferError(str(error)) from None
    pipe = build_pipeline(args)
    # One HandStream for all cameras, each with its own tracker, as the node's worker.
    stream = HandStream(pipe, TrackingOptions() if args.track else None, steps + robot.steps)
    writer = _CameraOutputs(args, default_output, cameras, robot, pipe.faces)
    batches = StampBatches(list(cameras.cameras), seconds_to_nanoseconds(args.sync_tolerance))
    skipped = 0
    taken = collections.deque()

    def stamp_batches():
        nonlocal skipped
        for camera, frame in cameras:
            if frame.image is None:
                skipped += 1
                writer.progress_frame(0)
                report(f'frame {frame.index} ({frame.source}) skipped: {frame.error}')
                continue
            if poses is not None and frame.frame_id:
                poses.optical_frames[camera] = frame.frame_id
            for batch in batches.add(camera, frame.stamp_ns, frame):
                taken.append(batch)
                yield _camera_frames(batch)
        for batch in batches.finish():
            taken.append(batch)
            yield _camera_frames(batch)

    try:
        # --overlap: the next stamp group is detected while this one reconstructs.
        if args.overlap:
            results_of_batches = stream.process_stream(stamp_batches(), args.vertices)
        else:
            results_of_batches = (stream.process(frames, args.vertices)
                                  for frames in stamp_batches())
        for results in results_of_batches:
            writer.write(taken.popleft(), results)
    finally:
        writer.close()
    report(f'{writer.processed} frames of {len(cameras.cameras)} cameras processed, {skipped} '
           f'skipped, {batches.released} batches'
           + (f', {writer.fused} with fused hands' if fusion is not None else '')
           + f'; results in {writer.output.path}'
           + (f'; hands bag {writer.bag.path}' if writer.bag is not None else ''))
    if fusion is not None and len(cameras.cameras) > 1 and batches.missing:
        lacking = ', '.join(f'{camera} {count}' for camera, count in batches.missing.items())
        report(f'unsynchronised: {sum(batches.missing.values())} camera frames missing from '
               f'{batches.released} batches (no frame within --sync-tolerance '
               f'{args.sync_tolerance} s: {lacking}); those batches ran without them')
    if writer.processed == 0:
        report('no frame could be processed')
        return 1
    return 0


def _camera_frames(batch):
    return [CameraFrame(image=frame.image, stamp=nanoseconds_to_seconds(frame.stamp_ns),
                        camera=camera, camera_matrix=frame.camera_matrix)
            for camera, frame in batch]


class _CameraOutputs:
    """The records (and hands bag) of each batch: per camera, then the fused hands."""

    def __init__(self, args, default_output, cameras, robot, faces):
        self.args = args
        self.cameras = cameras
        self.robot = robot
        if args.output == '-':
            self.output = JsonOutput('-', jsonl=True)
        else:
            self.output = JsonOutput(pathlib.Path(args.output) if args.output
                                     else default_output, args.jsonl)
        self.bag = None
        if args.out_bag:
            from wilor_ros.ros.bag_writer import HandBagWriter

            # Per-camera topics and /hands_fused only: no channel on the bare --out-topic.
            self.bag = HandBagWriter(args.out_bag, None, faces=faces)
        self.progress = None if args.quiet else FrameProgress(cameras.count)
        self.processed = self.fused = 0
        self.batches = 0

    def progress_frame(self, hands):
        if self.progress is not None:
            self.progress.update(1, hands)

    def write(self, batch, results):
        """Write the records of one processed batch."""
        for (camera, frame), result in zip(batch, results):
            hands = result.hands
            if not self.args.vertices:
                hands = [dataclasses.replace(hand, vertices=None) for hand in hands]
            record = frame_record(frame, hands, frame.camera_matrix)
            record.update(camera=camera, topic=self.cameras.cameras[camera].topic, fused=False)
            self.robot.annotate(record, result)
            self.output.write(record, f'{camera.replace("/", "_")}_frame_{frame.index:06d}')
            if self.bag is not None:
                namespace = self.cameras.cameras[camera].topic.rsplit('/', 1)[0]
                self.bag.write_hands(namespace + self.args.out_topic, hands, frame.stamp_ns,
                                     frame.frame_id, frame.log_time_ns)
            self.processed += 1
            self.progress_frame(len(hands))
        output = results[0].outputs.get(MultiViewFusion.name) if results else None
        index, self.batches = self.batches, self.batches + 1
        if output is None or output.hands is None:
            return  # No camera had a pose: no fused hands, as the node sends none.
        # The reference stamp is one frame's stamp exactly: its header stamp is the record's.
        reference = next(frame for (_, frame), result in zip(batch, results)
                         if result.stamp == output.stamp)
        hands = output.hands if self.args.vertices else [
            dataclasses.replace(hand, vertices=None) for hand in output.hands]
        self.output.write(fused_record(index, output, reference.stamp_ns, hands),
                          f'fused_{index:06d}')
        if self.bag is not None:
            # Logged after every image of the batch: the node publishes once all are done.
            self.bag.write_hands(FUSED_TOPIC, hands, reference.stamp_ns, output.frame,
                                 max(frame.log_time_ns for _, frame in batch))
        self.fused += 1

    def close(self):
        if self.progress is not None:
            self.progress.close()
        self.output.close()
        if self.bag is not None:
            self.bag.close()
