"""Readers and a writer for video files and folders of frame images.

Every reader yields **frames** as ``float32`` arrays in ``[0, 1]``: shape ``(H, W)``
for grey (the default) or ``(H, W, 3)`` in RGB order for ``grey=False``.  The
``read_*`` functions stack them into a clip ``(T, H, W)`` (see :mod:`stimuli.types`).

Per frame, the processing order is fixed: decode -> grey/RGB conversion ->
``crop=(x, y, w, h)`` (pixels of the source frame) -> ``size=(width, height)``
resize with ``cv2.INTER_AREA`` -> scale to ``[0, 1]``.  ``step`` keeps every
``step``-th source frame (frames 0, step, 2*step, ...); ``max_frames`` caps the number
of frames *returned*.

The ``iter_*`` functions stream: one decoded frame is alive at a time, so memory does
not grow with the length of the video.  They check the path eagerly (a missing file
raises at the call, not at the first ``next``); decoding errors surface while
iterating.  Bad input raises :class:`~stimuli.types.StimulusError` naming the file.

Damaged data is never used silently: a video that decodes fewer frames than its
container lists (a truncated file), an image file cut short (a JPEG without its end
marker, a PNG without ``IEND``) and a gap in a frame folder's numbering
(``image1, image2, image4``) are errors.  Paths whose names are not valid UTF-8 (which
OpenCV cannot take as text) are read through a temporary ASCII link.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from .types import StimulusError

__all__ = [
    "iter_video",
    "read_video",
    "video_info",
    "write_video",
    "iter_frame_folder",
    "read_frame_folder",
    "natural_key",
    "list_frame_files",
    "read_image",
]

#: Default image extensions of :func:`iter_frame_folder` (compared case-insensitively).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")

_DIGITS = re.compile(r"(\d+)")


# -- helpers ----------------------------------------------------------------------------
def natural_key(name: str | os.PathLike) -> tuple:
    """Sort key that orders embedded numbers numerically: ``image9 < image10``.

    Parameters
    ----------
    name : str or path
        A file name (only the final path component is used).

    Returns
    -------
    tuple
        Alternating ``(1, text)`` / ``(0, number)`` items; text compares
        case-insensitively, numbers as integers.
    """
    base = Path(name).name
    parts = _DIGITS.split(base)
    return tuple((0, int(p)) if p.isdigit() else (1, p.lower()) for p in parts if p != "")


def _check_step_max(step: int, max_frames: int | None) -> None:
    if int(step) != step or step < 1:
        raise ValueError(f"step must be an integer >= 1, got {step!r}")
    if max_frames is not None and (int(max_frames) != max_frames or max_frames < 0):
        raise ValueError(f"max_frames must be None or an integer >= 0, got {max_frames!r}")


def _to_unit_float(img: np.ndarray) -> np.ndarray:
    """Integer or float image -> float32 in [0, 1] (integers scaled by their dtype max)."""
    if np.issubdtype(img.dtype, np.integer):
        return img.astype(np.float32) / np.float32(np.iinfo(img.dtype).max)
    return np.clip(img.astype(np.float32), 0.0, 1.0)


def _process_frame(img: np.ndarray, *, grey: bool, size, crop, source: str) -> np.ndarray:
    """Decoded OpenCV image (grey, BGR or BGRA) -> processed float32 frame in [0, 1]."""
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if grey:
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB) if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if crop is not None:
        x, y, w, h = (int(v) for v in crop)
        height, width = img.shape[:2]
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
            raise StimulusError(f"{source}: crop (x, y, w, h) = {tuple(crop)} does not fit in a {width}x{height} frame")
        img = img[y : y + h, x : x + w]
    if size is not None:
        out_w, out_h = (int(v) for v in size)
        if out_w <= 0 or out_h <= 0:
            raise StimulusError(f"{source}: size (width, height) must be positive, got {tuple(size)}")
        img = cv2.resize(np.ascontiguousarray(img), (out_w, out_h), interpolation=cv2.INTER_AREA)
    return _to_unit_float(img)


def _stack(frames: Iterator[np.ndarray], source: str) -> np.ndarray:
    frames = list(frames)
    if not frames:
        raise StimulusError(f"{source}: no frames selected (max_frames=0?)")
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise StimulusError(f"{source}: frames differ in shape {sorted(shapes)}; pass size=")
    return np.stack(frames).astype(np.float32, copy=False)


# -- video files --------------------------------------------------------------------------
def _utf8(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@contextmanager
def _opencv_path(path: Path, *, for_writing: bool = False):
    """A path OpenCV can take as text.

    ``path`` itself, or, for a name that is not valid UTF-8, an ASCII link to it in a
    temporary folder (``for_writing``: a temporary file moved to ``path`` afterwards).
    """
    if _utf8(path):
        yield str(path)
        return
    tmp = Path(tempfile.mkdtemp(prefix="spikevid-cv-"))
    try:
        alias = tmp / f"file{path.suffix.encode('ascii', 'replace').decode('ascii')}"
        if not for_writing:
            os.symlink(os.fsencode(path.resolve()), os.fsencode(alias))
        yield str(alias)
        if for_writing and alias.exists():
            shutil.move(os.fsencode(alias), os.fsencode(path))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _open_capture(path) -> tuple[cv2.VideoCapture, str]:
    p = Path(path)
    if not p.exists():
        raise StimulusError(f"{p}: video file not found")
    if not p.is_file():
        raise StimulusError(f"{p}: not a file")
    with _opencv_path(p) as name:  # the capture keeps its file open once it is opened
        cap = cv2.VideoCapture(name)
    if not cap.isOpened():
        cap.release()
        raise StimulusError(f"{p}: cannot open video (corrupt file or unsupported codec)")
    return cap, str(p)


def _iter_capture(cap, source, grey, size, crop, step, max_frames) -> Iterator[np.ndarray]:
    listed = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    try:
        n_out = 0
        index = 0
        while max_frames is None or n_out < max_frames:
            if index % step == 0:
                ok, img = cap.read()
                if not ok or img is None:
                    break
                yield _process_frame(img, grey=grey, size=size, crop=crop, source=source)
                n_out += 1
            elif not cap.grab():  # skipped frame: demux only, no decode
                break
            index += 1
        else:
            return  # stopped at max_frames: the rest of the file is not read
        if n_out == 0 and (max_frames is None or max_frames > 0):
            raise StimulusError(f"{source}: video has no decodable frames (empty or corrupt)")
        if 0 < index < listed:
            raise StimulusError(
                f"{source}: decoded {index} of the {listed} frames its container lists (truncated or damaged file)"
            )
    finally:
        cap.release()


def iter_video(
    path,
    *,
    grey: bool = True,
    size: Sequence[int] | None = None,
    crop: Sequence[int] | None = None,
    step: int = 1,
    max_frames: int | None = None,
) -> Iterator[np.ndarray]:
    """Stream the frames of a video file.

    Parameters
    ----------
    path : str or path
        Any file OpenCV can decode (AVI/MJPG, XVID, MP4/mp4v, ...).
    grey : bool
        Grey frames ``(H, W)`` if True, else RGB ``(H, W, 3)``.
    size : (width, height), optional
        Output size (``cv2.INTER_AREA`` resampling), applied after ``crop``.
    crop : (x, y, w, h), optional
        Window of the source frame, in source pixels.
    step : int
        Keep every ``step``-th frame (the effective frame rate is ``fps / step``).
    max_frames : int, optional
        Stop after this many returned frames.

    Yields
    ------
    ndarray, float32 in [0, 1]
        One frame at a time.

    Raises
    ------
    StimulusError
        Missing file or one that cannot be opened (at the call); no decodable frame or
        an out-of-frame ``crop`` (while iterating).  A video that stops decoding part
        way (truncated file) ends at its last decodable frame.
    """
    _check_step_max(step, max_frames)
    cap, source = _open_capture(path)
    return _iter_capture(cap, source, grey, size, crop, int(step), max_frames)


def read_video(path, **kwargs) -> np.ndarray:
    """Read a whole video as a clip.

    Parameters
    ----------
    path : str or path
        Video file.
    **kwargs
        ``grey``, ``size``, ``crop``, ``step``, ``max_frames`` as in :func:`iter_video`.

    Returns
    -------
    ndarray, shape (T, H, W) (or (T, H, W, 3) with ``grey=False``), float32 in [0, 1]
    """
    return _stack(iter_video(path, **kwargs), str(path))


def video_info(path, *, exact: bool = False) -> dict:
    """Frame rate, frame count and frame size of a video file.

    Parameters
    ----------
    path : str or path
        Video file.
    exact : bool
        Count frames by demuxing the whole file instead of trusting the container's
        frame count (which some formats omit or estimate).  Done anyway when the
        container reports no count.

    Returns
    -------
    dict
        ``fps`` (float, frames/s; 0.0 if unknown), ``n_frames`` (int), ``width`` and
        ``height`` (int, pixels).
    """
    cap, source = _open_capture(path)
    try:
        info = {
            "fps": float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
            "n_frames": int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
            "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
            "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
        }
        if exact or info["n_frames"] <= 0:
            n = 0
            while cap.grab():
                n += 1
            info["n_frames"] = n
    finally:
        cap.release()
    return info


def _to_uint8_frames(clip: np.ndarray, source: str) -> np.ndarray:
    clip = np.asarray(clip)
    if clip.ndim not in (3, 4) or (clip.ndim == 4 and clip.shape[3] != 3):
        raise StimulusError(f"{source}: clip must have shape (T, H, W) or (T, H, W, 3), got {clip.shape}")
    if clip.dtype == np.uint8:
        return clip
    if not np.issubdtype(clip.dtype, np.floating):
        raise StimulusError(f"{source}: clip must be float in [0, 1] or uint8, got {clip.dtype}")
    return np.rint(np.clip(clip, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_video(path, clip, fps: float = 25.0, codec: str = "MJPG") -> Path:
    """Write a clip to a video file with OpenCV.

    Parameters
    ----------
    path : str or path
        Output file; its extension must suit the codec (``.avi`` for MJPG/XVID,
        ``.mp4`` for mp4v).  Parent folders are created.
    clip : ndarray, shape (T, H, W) or (T, H, W, 3) RGB
        Float in ``[0, 1]`` (clipped, rounded to 8 bits) or ``uint8``.  ``T = 0``
        writes a valid file without frames.
    fps : float
        Frame rate stored in the container (frames/s).
    codec : str
        FourCC code.  MJPG, XVID and mp4v work with ``opencv-python-headless``;
        H.264 does not.

    Returns
    -------
    Path
        The written file.
    """
    p = Path(path)
    frames = _to_uint8_frames(clip, str(p))
    if len(codec) != 4:
        raise ValueError(f"codec must be a four-character code, got {codec!r}")
    p.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames.shape[1:3]
    with _opencv_path(p, for_writing=True) as name:
        writer = cv2.VideoWriter(name, cv2.VideoWriter_fourcc(*codec), float(fps), (width, height), True)
        if not writer.isOpened():
            raise StimulusError(f"{p}: OpenCV cannot write codec {codec!r} to this file")
        try:
            for frame in frames:
                if frame.ndim == 2:
                    frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
                else:
                    frame = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR)
                writer.write(frame)
        finally:
            writer.release()
    return p


# -- frame folders ------------------------------------------------------------------------
def list_frame_files(folder, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """Image files of ``folder`` with one of ``extensions``, in :func:`natural_key` order.

    Raises
    ------
    StimulusError
        Missing folder, not a folder, or no matching image.
    """
    d = Path(folder)
    if not d.exists():
        raise StimulusError(f"{d}: frame folder not found")
    if not d.is_dir():
        raise StimulusError(f"{d}: not a folder")
    exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
    files = [f for f in d.iterdir() if f.is_file() and f.suffix.lower() in exts]
    if not files:
        raise StimulusError(f"{d}: no images with extensions {exts}")
    files = sorted(files, key=lambda f: natural_key(f.name))
    _check_numbering(d, files)
    return files


def _check_numbering(folder: Path, files: list[Path]) -> None:
    """Frames named ``<prefix><number><ext>`` with one prefix must be numbered without gaps."""
    parts = [re.fullmatch(r"(.*?)(\d+)", f.stem) for f in files]
    if not all(parts) or len({(m.group(1), f.suffix.lower()) for m, f in zip(parts, files, strict=True)}) != 1:
        return  # not one numbered sequence: nothing to check
    numbers = sorted(int(m.group(2)) for m in parts)
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if missing:
        shown = ", ".join(f"{parts[0].group(1)}{n}{files[0].suffix}" for n in missing[:5])
        raise StimulusError(
            f"{folder}: frame(s) missing from the numbered sequence: {shown}"
            + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        )


def read_image(path) -> np.ndarray:
    """Decode one image file (any name) with OpenCV, as stored (``IMREAD_UNCHANGED``).

    Raises
    ------
    StimulusError
        Unreadable, cut short (JPEG without its end marker, PNG without ``IEND``) or
        not decodable; the message names the file.
    """
    path = Path(path)
    try:
        buf = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise StimulusError(f"{path}: cannot read image ({exc.strerror})") from None
    data = buf.tobytes()
    head = data[:8]
    if head.startswith(b"\xff\xd8") and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise StimulusError(f"{path}: truncated JPEG (no end-of-image marker)")
    if head.startswith(b"\x89PNG") and b"IEND" not in data[-16:]:
        raise StimulusError(f"{path}: truncated PNG (no IEND chunk)")
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None  # keeps 16-bit PNGs
    if img is None:
        raise StimulusError(f"{path}: cannot decode image")
    return img


def _iter_files(files, grey, size, crop) -> Iterator[np.ndarray]:
    for f in files:
        yield _process_frame(read_image(f), grey=grey, size=size, crop=crop, source=str(f))


def iter_frame_folder(
    folder,
    *,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    grey: bool = True,
    size: Sequence[int] | None = None,
    crop: Sequence[int] | None = None,
    step: int = 1,
    max_frames: int | None = None,
) -> Iterator[np.ndarray]:
    """Stream the frames of a folder of images (``image1.jpg, image2.jpg, ...``).

    Files are ordered with :func:`natural_key`, then every ``step``-th is kept and at
    most ``max_frames`` are read; each is decoded only when its frame is requested.
    Other arguments as in :func:`iter_video`.

    Raises
    ------
    StimulusError
        Missing or empty folder (at the call); an undecodable image (while iterating).
    """
    _check_step_max(step, max_frames)
    files = list_frame_files(folder, extensions)[:: int(step)]
    if max_frames is not None:
        files = files[:max_frames]
    return _iter_files(files, grey, size, crop)


def read_frame_folder(folder, **kwargs) -> np.ndarray:
    """Read a folder of frame images as a clip ``(T, H, W)`` float32 in [0, 1].

    Keyword arguments as in :func:`iter_frame_folder`.  Frames of different sizes
    raise :class:`StimulusError` unless ``size`` is given.
    """
    return _stack(iter_frame_folder(folder, **kwargs), str(folder))
