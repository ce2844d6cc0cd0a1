"""Video and frame-folder readers: round trips through OpenCV, options, errors, streaming."""

from __future__ import annotations

import csv
import os
import tracemalloc
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from stimuli.types import StimulusError
from stimuli.video import (
    iter_frame_folder,
    iter_video,
    natural_key,
    read_frame_folder,
    read_video,
    video_info,
    write_video,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WEIZMANN = DATA / "weizmann"

# JPEG-based codecs are lossy; flat 8x8-aligned regions come back within this tolerance.
TOL = 0.03


def ramp_clip(n_frames=10, h=32, w=48):
    """Flat frames of increasing grey level 0.1, 0.18, ...; right half brighter by 0.3."""
    levels = 0.1 + 0.06 * np.arange(n_frames)
    clip = np.repeat(levels[:, None, None], h, axis=1).repeat(w, axis=2).astype(np.float32)
    clip[:, :, w // 2 :] += 0.3
    return clip


@pytest.mark.parametrize("codec,ext", [("MJPG", ".avi"), ("XVID", ".avi"), ("mp4v", ".mp4")])
def test_round_trip_codecs(tmp_path, codec, ext):
    clip = ramp_clip()
    path = write_video(tmp_path / f"clip{ext}", clip, fps=25.0, codec=codec)
    out = read_video(path)
    assert out.shape == clip.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    # per-frame mean of each half survives compression
    np.testing.assert_allclose(out[:, :, :24].mean(axis=(1, 2)), clip[:, :, :24].mean(axis=(1, 2)), atol=TOL)
    np.testing.assert_allclose(out[:, :, 24:].mean(axis=(1, 2)), clip[:, :, 24:].mean(axis=(1, 2)), atol=TOL)
    info = video_info(path)
    assert info["n_frames"] == 10 and info["width"] == 48 and info["height"] == 32
    assert info["fps"] == pytest.approx(25.0)
    assert video_info(path, exact=True)["n_frames"] == 10


def test_step_and_max_frames(tmp_path):
    clip = ramp_clip(n_frames=10)
    path = write_video(tmp_path / "c.avi", clip)
    sub = read_video(path, step=3)
    assert sub.shape[0] == 4  # frames 0, 3, 6, 9
    np.testing.assert_allclose(sub.mean(axis=(1, 2)), clip[::3].mean(axis=(1, 2)), atol=TOL)
    capped = read_video(path, step=2, max_frames=3)
    assert capped.shape[0] == 3  # frames 0, 2, 4
    np.testing.assert_allclose(capped.mean(axis=(1, 2)), clip[[0, 2, 4]].mean(axis=(1, 2)), atol=TOL)


def test_crop_then_resize_and_rgb(tmp_path):
    clip = ramp_clip(n_frames=3)
    path = write_video(tmp_path / "c.avi", clip)
    # right half only (x from 24), then resized to width 8, height 4
    right = read_video(path, crop=(24, 0, 24, 32), size=(8, 4))
    assert right.shape == (3, 4, 8)
    np.testing.assert_allclose(right.mean(axis=(1, 2)), clip[:, 0, 30], atol=TOL)
    rgb = read_video(path, grey=False, size=(12, 8))
    assert rgb.shape == (3, 8, 12, 3)
    # grey input -> equal channels
    assert np.abs(rgb[..., 0] - rgb[..., 2]).max() < 0.05
    with pytest.raises(StimulusError, match="crop"):
        read_video(path, crop=(40, 0, 24, 32))


def test_rgb_channel_order(tmp_path):
    clip = np.zeros((2, 16, 16, 3), dtype=np.float32)
    clip[..., 0] = 0.9  # red
    path = write_video(tmp_path / "red.avi", clip)
    out = read_video(path, grey=False)
    assert out[..., 0].mean() > 0.8 and out[..., 2].mean() < 0.1


def test_iter_video_is_lazy_generator(tmp_path):
    path = write_video(tmp_path / "c.avi", ramp_clip(n_frames=6))
    it = iter_video(path)
    assert isinstance(it, types.GeneratorType)
    first = next(it)
    assert first.shape == (32, 48)
    assert len(list(it)) == 5


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_memory_does_not_grow_with_length(tmp_path):
    rng = np.random.default_rng(0)
    h = w = 64
    frame_bytes = h * w * 4
    short = write_video(tmp_path / "short.avi", rng.random((20, h, w)).astype(np.float32))
    long = write_video(tmp_path / "long.avi", rng.random((300, h, w)).astype(np.float32))

    def consume(path):
        total = 0.0
        for frame in iter_video(path):
            total += float(frame.sum())
        return total

    peak_short = _peak_bytes(lambda: consume(short))
    peak_long = _peak_bytes(lambda: consume(long))
    peak_read = _peak_bytes(lambda: read_video(long))
    # reading the whole clip holds >= 300 frames: the measure sees frame buffers
    assert peak_read > 300 * frame_bytes
    # streaming holds a handful of frames whatever the length
    assert peak_long < 20 * frame_bytes
    assert peak_long < 2 * peak_short + 4 * frame_bytes


def test_video_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.avi"
    with pytest.raises(StimulusError, match="missing.avi"):
        iter_video(missing)  # raised at the call, not at the first next()
    corrupt = tmp_path / "corrupt.avi"
    corrupt.write_bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(StimulusError, match="corrupt.avi"):
        read_video(corrupt)
    with pytest.raises(StimulusError, match="corrupt.avi"):
        video_info(corrupt)
    empty = write_video(tmp_path / "empty.avi", np.zeros((0, 16, 16), dtype=np.float32))
    assert empty.stat().st_size > 0
    with pytest.raises(StimulusError, match="empty.avi"):
        read_video(empty)
    with pytest.raises(StimulusError, match="tmp_dir_as_file"):
        (tmp_path / "tmp_dir_as_file").mkdir()
        read_video(tmp_path / "tmp_dir_as_file")
    with pytest.raises(ValueError, match="step"):
        iter_video(write_video(tmp_path / "ok.avi", ramp_clip(2)), step=0)


def test_write_video_accepts_uint8_and_rejects_bad_shapes(tmp_path):
    clip = np.full((3, 16, 16), 200, dtype=np.uint8)
    out = read_video(write_video(tmp_path / "u8.avi", clip))
    assert abs(out.mean() - 200 / 255) < TOL
    with pytest.raises(StimulusError, match="bad.avi"):
        write_video(tmp_path / "bad.avi", np.zeros((16, 16)))


# -- frame folders -----------------------------------------------------------------------
def test_natural_key_orders_numbers():
    names = ["image10.jpg", "image9.jpg", "image1.jpg", "Image2.jpg", "image100.jpg"]
    assert sorted(names, key=natural_key) == ["image1.jpg", "Image2.jpg", "image9.jpg", "image10.jpg", "image100.jpg"]


def _write_numbered_folder(folder: Path, n=12, ext=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        cv2.imwrite(str(folder / f"image{i}{ext}"), np.full((10, 14, 3), i * 20, dtype=np.uint8))
    (folder / "notes.txt").write_text("not an image")


def test_frame_folder_sorted_numerically(tmp_path):
    _write_numbered_folder(tmp_path / "seq")
    clip = read_frame_folder(tmp_path / "seq")
    assert clip.shape == (12, 10, 14) and clip.dtype == np.float32
    # PNG is lossless: frame k (0-based) holds (k + 1) * 20 / 255 exactly
    np.testing.assert_allclose(clip[:, 0, 0], np.arange(1, 13) * 20 / 255, rtol=0, atol=1e-6)
    sub = read_frame_folder(tmp_path / "seq", step=5, max_frames=2, size=(7, 5))
    assert sub.shape == (2, 5, 7)
    np.testing.assert_allclose(sub[:, 0, 0], np.array([1, 6]) * 20 / 255, atol=1e-6)
    rgb = read_frame_folder(tmp_path / "seq", grey=False, crop=(2, 3, 4, 5))
    assert rgb.shape == (12, 5, 4, 3)


def test_frame_folder_reads_lazily(tmp_path):
    _write_numbered_folder(tmp_path / "seq", n=5)
    it = iter_frame_folder(tmp_path / "seq")
    assert next(it)[0, 0] == pytest.approx(20 / 255)
    # damaging a later file after the first frame only fails when that frame is reached
    (tmp_path / "seq" / "image3.png").write_bytes(b"garbage")
    assert next(it)[0, 0] == pytest.approx(40 / 255)
    with pytest.raises(StimulusError, match="image3.png"):
        next(it)


def test_frame_folder_errors(tmp_path):
    with pytest.raises(StimulusError, match="nowhere"):
        read_frame_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StimulusError, match="empty"):
        read_frame_folder(tmp_path / "empty")
    (tmp_path / "txt").mkdir()
    (tmp_path / "txt" / "a.txt").write_text("x")
    with pytest.raises(StimulusError, match="txt"):
        iter_frame_folder(tmp_path / "txt")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    cv2.imwrite(str(mixed / "image1.png"), np.zeros((8, 8), np.uint8))
    cv2.imwrite(str(mixed / "image2.png"), np.zeros((9, 8), np.uint8))
    with pytest.raises(StimulusError, match="shape"):
        read_frame_folder(mixed)
    assert read_frame_folder(mixed, size=(4, 4)).shape == (2, 4, 4)


# -- real data (slow) -------------------------------------------------------------------------
@pytest.mark.slow
def test_weizmann_frame_folders():
    if not (WEIZMANN / "index.csv").is_file():
        pytest.skip(f"Weizmann frames not found at {WEIZMANN} (real-data tier needs ../shared/data)")
    with open(WEIZMANN / "index.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 93
    for row in rows[::9]:
        folder = WEIZMANN / row["frames_dir"]
        clip = read_frame_folder(folder)
        assert clip.shape == (int(row["n_frames"]), 144, 180)
        assert 0.0 <= clip.min() and clip.max() <= 1.0 and clip.std() > 0.01
        # consecutive frames of a real sequence are similar; numerical order matters
        names = sorted(os.listdir(folder), key=natural_key)
        assert names[0] == "image1.jpg" and names[-1] == f"image{row['n_frames']}.jpg"
    small = read_frame_folder(WEIZMANN / rows[0]["frames_dir"], size=(45, 36), step=2)
    assert small.shape == ((int(rows[0]["n_frames"]) + 1) // 2, 36, 45)
