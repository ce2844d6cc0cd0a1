"""Event-file readers: N-MNIST bit packing, AEDAT 3.1 packets, DVS Gesture cuts, .npy."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pytest

from stimuli.events import (
    read_aedat31,
    read_dvs_gesture,
    read_nmnist,
    read_npy_events,
    sensor_size_of,
    write_aedat31,
    write_nmnist,
)
from stimuli.types import EVENT_DTYPE, StimulusError, make_events

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NMNIST = DATA / "nmnist_small"


# -- N-MNIST ---------------------------------------------------------------------------------
def test_nmnist_hand_packed_bytes(tmp_path):
    # event (x=5, y=17, p=1, t=1_234_567 us): t = 18 * 2**16 + 214 * 2**8 + 135
    # -> bytes 5, 17, 0x80 | 18 = 146, 214, 135
    raw = bytes(
        [
            5,
            17,
            146,
            214,
            135,
            33,
            0,
            0x7F,
            0xFF,
            0xFF,  # x=33, y=0, p=0, t=2**23 - 1
            0,
            33,
            0x80,
            0,
            3,
        ]
    )  # x=0, y=33, p=1, t=3
    path = tmp_path / "sample.bs2"
    path.write_bytes(raw)
    ev = read_nmnist(path)
    assert ev.dtype == EVENT_DTYPE
    # sorted by time
    assert ev["t"].tolist() == [3, 1_234_567, 2**23 - 1]
    assert ev["x"].tolist() == [0, 5, 33]
    assert ev["y"].tolist() == [33, 17, 0]
    assert ev["p"].tolist() == [1, 1, 0]


def test_nmnist_write_read_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    n = 500
    ev = make_events(
        rng.integers(0, 34, n), rng.integers(0, 34, n), np.sort(rng.integers(0, 2**23, n)), rng.integers(0, 2, n)
    )
    path = write_nmnist(tmp_path / "s.bin", ev)
    assert path.stat().st_size == 5 * n
    back = read_nmnist(path)
    for f in "xytp":
        np.testing.assert_array_equal(back[f], ev[f])


def test_nmnist_errors_name_the_file(tmp_path):
    bad = tmp_path / "truncated.bs2"
    bad.write_bytes(bytes(12))
    with pytest.raises(StimulusError, match="truncated.bs2"):
        read_nmnist(bad)
    with pytest.raises(StimulusError, match="absent.bs2"):
        read_nmnist(tmp_path / "absent.bs2")
    (tmp_path / "empty.bs2").write_bytes(b"")
    assert read_nmnist(tmp_path / "empty.bs2").size == 0
    with pytest.raises(StimulusError, match="N-MNIST"):
        write_nmnist(tmp_path / "x.bs2", make_events([0], [0], [2**23], [0]))


# -- AEDAT 3.1 -------------------------------------------------------------------------------
HEADER = struct.Struct("<hhiiiiii")  # type, source, size, TSOffset, TSOverflow, capacity, number, valid


def _aedat_bytes():
    """One frame packet (skipped), one polarity packet with a valid and an invalid event."""
    head = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"
    frame_packet = HEADER.pack(2, 1, 12, 8, 0, 2, 2, 2) + bytes(range(24))
    valid = (100 << 17) | (50 << 2) | (1 << 1) | 1  # x=100, y=50, ON, valid
    invalid = (7 << 17) | (8 << 2) | (0 << 1) | 0  # valid bit 0 -> skipped
    off = (3 << 17) | (4 << 2) | (0 << 1) | 1  # x=3, y=4, OFF, valid
    events = struct.pack("<Ii", valid, 123_456) + struct.pack("<Ii", invalid, 5) + struct.pack("<Ii", off, 200)
    pol_packet = HEADER.pack(1, 1, 8, 4, 2, 3, 3, 2) + events  # TSOverflow = 2
    return head + frame_packet + pol_packet


def test_aedat31_hand_built_packets(tmp_path):
    path = tmp_path / "rec.aedat"
    path.write_bytes(_aedat_bytes())
    ev = read_aedat31(path)
    assert ev.size == 2
    # t = (overflow << 31) | timestamp
    assert ev["t"].tolist() == [(2 << 31) | 200, (2 << 31) | 123_456]
    assert ev["x"].tolist() == [3, 100]
    assert ev["y"].tolist() == [4, 50]
    assert ev["p"].tolist() == [0, 1]


def test_aedat31_round_trip_with_overflow_and_invalid(tmp_path):
    rng = np.random.default_rng(2)
    n = 3000
    t = np.sort(rng.integers(0, 3 * 2**31, n))
    ev = make_events(rng.integers(0, 128, n), rng.integers(0, 128, n), t, rng.integers(0, 2, n))
    valid = rng.random(n) > 0.1
    path = write_aedat31(tmp_path / "r.aedat", ev, valid=valid, packet_size=512)
    back = read_aedat31(path)
    for f in "xytp":
        np.testing.assert_array_equal(back[f], ev[f][valid])


def test_aedat31_errors(tmp_path):
    with pytest.raises(StimulusError, match="nofile.aedat"):
        read_aedat31(tmp_path / "nofile.aedat")
    noheader = tmp_path / "noheader.aedat"
    noheader.write_bytes(b"#!AER-DAT3.1\r\n#Format: RAW\r\n" + bytes(40))
    with pytest.raises(StimulusError, match="noheader.aedat.*END-HEADER"):
        read_aedat31(noheader)
    trunc = tmp_path / "trunc.aedat"
    trunc.write_bytes(_aedat_bytes()[:-5])
    with pytest.raises(StimulusError, match="trunc.aedat.*truncated"):
        read_aedat31(trunc)
    other = tmp_path / "v2.aedat"
    other.write_bytes(b"#!AER-DAT2.0\r\n" + bytes(16))
    with pytest.raises(StimulusError, match="v2.aedat"):
        read_aedat31(other)


def _gesture_recording(tmp_path, rows):
    rng = np.random.default_rng(3)
    n = 4000
    t = np.sort(rng.integers(0, 1_000_000, n)) + 5_000_000  # absolute times like a recording
    ev = make_events(rng.integers(0, 128, n), rng.integers(0, 128, n), t, rng.integers(0, 2, n))
    aedat = write_aedat31(tmp_path / "user01_fluorescent.aedat", ev)
    with open(tmp_path / "user01_fluorescent_labels.csv", "w") as fh:
        fh.write("class,startTime_usec,endTime_usec\n")
        for r in rows:
            fh.write(",".join(str(v) for v in r) + "\n")
    return aedat, ev


def test_dvs_gesture_cuts(tmp_path):
    rows = [(3, 5_100_000, 5_300_000), (11, 5_500_000, 5_800_000), (1, 5_250_000, 5_260_000)]
    aedat, ev = _gesture_recording(tmp_path, rows)
    cuts = read_dvs_gesture(aedat)
    assert [c[1] for c in cuts] == [2, 10, 0]  # 0-based labels, csv order
    for (events, _label, start, end), (_cls, s, e) in zip(cuts, rows, strict=True):
        assert (start, end) == (s, e)
        mask = (ev["t"] >= s) & (ev["t"] < e)
        assert events.size == mask.sum() > 0
        np.testing.assert_array_equal(events["t"], ev["t"][mask] - s)  # shifted to the gesture start
        np.testing.assert_array_equal(events["x"], ev["x"][mask])
    absolute = read_dvs_gesture(aedat, tmp_path / "user01_fluorescent_labels.csv", shift_time=False)
    assert absolute[0][0]["t"].min() >= 5_100_000


def test_dvs_gesture_bad_labels(tmp_path):
    aedat, _ = _gesture_recording(tmp_path, [(12, 5_100_000, 5_300_000)])
    with pytest.raises(StimulusError, match="class 12"):
        read_dvs_gesture(aedat)
    with pytest.raises(StimulusError, match="other_labels.csv"):
        read_dvs_gesture(aedat, tmp_path / "other_labels.csv")


# -- .npy ------------------------------------------------------------------------------------------
def test_npy_structured_and_plain(tmp_path):
    dt = np.dtype([("t", "<f8"), ("x", "<i4"), ("y", "<i2"), ("p", "<i1")])
    arr = np.array([(30.0, 1, 2, 1), (10.0, 3, 4, -1)], dtype=dt)
    np.save(tmp_path / "s.npy", arr)
    ev = read_npy_events(tmp_path / "s.npy")
    assert ev.dtype == EVENT_DTYPE
    assert ev["t"].tolist() == [10, 30] and ev["x"].tolist() == [3, 1] and ev["p"].tolist() == [0, 1]
    np.save(tmp_path / "plain.npy", np.array([[5, 6, 100, 1], [7, 8, 50, 0]]))
    ev = read_npy_events(tmp_path / "plain.npy")
    assert ev["x"].tolist() == [7, 5] and ev["y"].tolist() == [8, 6] and ev["t"].tolist() == [50, 100]
    np.save(tmp_path / "bad.npy", np.zeros((4, 3)))
    with pytest.raises(StimulusError, match="bad.npy"):
        read_npy_events(tmp_path / "bad.npy")
    np.save(tmp_path / "neg.npy", np.array([[-1, 0, 0, 1]]))
    with pytest.raises(StimulusError, match="neg.npy"):
        read_npy_events(tmp_path / "neg.npy")


def test_sensor_size_of():
    ev = make_events([0, 33, 4], [2, 1, 20], [0, 1, 2], [0, 1, 1])
    assert sensor_size_of(ev) == (34, 21, 2)
    with pytest.raises(StimulusError):
        sensor_size_of(ev[:0])


# -- real data (slow) --------------------------------------------------------------------------------
def _nmnist_ids():
    ids = []
    for name in ("train1K.txt", "test100.txt"):
        with open(NMNIST / name) as fh:
            for line in fh:
                if line.strip() and not line.startswith("#"):
                    sid, label = line.split()
                    ids.append((sid, int(label)))
    return ids


@pytest.mark.slow
def test_nmnist_small_all_samples():
    if not (NMNIST / "train1K.txt").is_file():
        pytest.skip(f"N-MNIST subset not found at {NMNIST} (real-data tier needs ../shared/data)")
    ids = _nmnist_ids()
    assert len(ids) == 1100 and {lab for _, lab in ids} == set(range(10))
    t0 = time.perf_counter()
    counts = []
    for sid, _ in ids:
        ev = read_nmnist(NMNIST / f"{sid}.bs2")
        counts.append(ev.size)
        assert 1000 <= ev.size <= 8000, sid
        assert ev["x"].max() < 34 and ev["y"].max() < 34, sid
        assert np.all(np.diff(ev["t"]) >= 0)
        # three saccades of ~100 ms each
        assert 200_000 < ev["t"].max() < 400_000, sid
        assert 0.2 < ev["p"].mean() < 0.8, sid
    assert min(counts) == 1069 and max(counts) == 7152  # as documented in data/README.md
    assert time.perf_counter() - t0 < 60
