r"""Readers and writers for event-camera files.

All readers return an event array (:data:`~stimuli.types.EVENT_DTYPE`: ``x, y`` pixel
column/row, ``t`` in microseconds, ``p`` 1 = ON / 0 = OFF), sorted by time.  Decoding
is vectorised with NumPy; the only Python loop is over AEDAT packets (thousands per
file), never over events.

Formats
-------
N-MNIST (``.bs2`` / ``.bin``; Orchard et al., 2015)
    5 bytes per event, one big-endian 40-bit word:
    ``x`` bits 39-32, ``y`` bits 31-24, ``p`` bit 23, ``t`` bits 22-0 (µs).
AEDAT 3.1 (iniVation / jAER; DVS128 Gesture)
    ASCII header lines starting with ``#``, the last one ``#!END-HEADER\r\n``; then
    packets, each a 28-byte little-endian header (:data:`AEDAT_PACKET_HEADER`)
    followed by ``eventNumber * eventSize`` bytes.  Polarity events (type 1, 8 bytes)
    are ``uint32 data`` (bit 0 valid, bit 1 polarity, bits 2-16 ``y``, bits 17-31
    ``x``) and ``int32 timestamp``; the full time is
    ``(eventTSOverflow << 31) | timestamp`` (µs).
DVS128 Gesture labels (``<name>_labels.csv``)
    header ``class,startTime_usec,endTime_usec``; classes 1..11.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .types import EVENT_DTYPE, StimulusError, make_events

__all__ = [
    "read_nmnist",
    "write_nmnist",
    "read_aedat31",
    "write_aedat31",
    "read_dvs_gesture",
    "read_npy_events",
    "sensor_size_of",
    "event_frames",
    "AEDAT_PACKET_HEADER",
    "NMNIST_SENSOR_SIZE",
    "DVS128_SENSOR_SIZE",
]

#: ``(width, height, polarities)`` of the ATIS recordings of N-MNIST.
NMNIST_SENSOR_SIZE = (34, 34, 2)
#: ``(width, height, polarities)`` of the DVS128 (DVS128 Gesture).
DVS128_SENSOR_SIZE = (128, 128, 2)

# N-MNIST 40-bit word layout.
_NMNIST_BYTES = 5
_NMNIST_T_BITS = 23
_NMNIST_T_MAX = (1 << _NMNIST_T_BITS) - 1

#: AEDAT 3.x packet header (28 bytes, little-endian).
AEDAT_PACKET_HEADER = np.dtype(
    [
        ("eventType", "<i2"),
        ("eventSource", "<i2"),
        ("eventSize", "<i4"),
        ("eventTSOffset", "<i4"),
        ("eventTSOverflow", "<i4"),
        ("eventCapacity", "<i4"),
        ("eventNumber", "<i4"),
        ("eventValid", "<i4"),
    ]
)
AEDAT_END_HEADER = b"#!END-HEADER\r\n"
AEDAT_POLARITY_EVENT = 1
_AEDAT_POLARITY_SIZE = 8
_AEDAT_TS_OVERFLOW_SHIFT = 31
# polarity event data word
_VALID_MASK = 0x1
_POLARITY_SHIFT = 1
_Y_SHIFT, _X_SHIFT, _ADDR_MASK = 2, 17, 0x7FFF

#: Number of DVS128 Gesture classes (labelled 1..11 in the csv files).
DVS_GESTURE_N_CLASSES = 11


def _read_bytes(path, what: str) -> tuple[np.ndarray, str]:
    p = Path(path)
    if not p.exists():
        raise StimulusError(f"{p}: {what} file not found")
    if not p.is_file():
        raise StimulusError(f"{p}: not a file")
    return np.fromfile(p, dtype=np.uint8), str(p)


# -- N-MNIST ------------------------------------------------------------------------------
def read_nmnist(path) -> np.ndarray:
    """Read an N-MNIST binary file (``.bs2`` or ``.bin``).

    Parameters
    ----------
    path : str or path

    Returns
    -------
    ndarray, shape (n_events,), EVENT_DTYPE
        Time-sorted events; ``t`` in µs, ``x, y < 34`` for N-MNIST.  An empty file
        gives an empty array.

    Raises
    ------
    StimulusError
        Missing file, or a size that is not a multiple of 5 bytes.
    """
    raw, source = _read_bytes(path, "N-MNIST")
    if raw.size % _NMNIST_BYTES:
        raise StimulusError(
            f"{source}: size {raw.size} bytes is not a multiple of {_NMNIST_BYTES} (not an N-MNIST file, or truncated)"
        )
    b = raw.reshape(-1, _NMNIST_BYTES).astype(np.int64)
    x = b[:, 0]
    y = b[:, 1]
    p = b[:, 2] >> 7
    t = ((b[:, 2] & 0x7F) << 16) | (b[:, 3] << 8) | b[:, 4]
    return make_events(x, y, t, p)


def write_nmnist(path, events: np.ndarray) -> Path:
    """Write events in the N-MNIST 5-byte format (for tests and fixtures).

    Requires ``x, y < 256``, ``0 <= t < 2**23`` µs and ``p`` in ``{0, 1}``.
    """
    p = Path(path)
    ev = np.asarray(events)
    x, y, t, pol = (ev[f].astype(np.int64) for f in ("x", "y", "t", "p"))
    if ev.size and (
        x.max() > 255 or y.max() > 255 or t.min() < 0 or t.max() > _NMNIST_T_MAX or not np.isin(pol, (0, 1)).all()
    ):
        raise StimulusError(f"{p}: events do not fit the N-MNIST format (x, y < 256, t < 2**23 µs, p in 0/1)")
    out = np.empty((ev.size, _NMNIST_BYTES), dtype=np.uint8)
    out[:, 0] = x
    out[:, 1] = y
    out[:, 2] = (pol << 7) | (t >> 16)
    out[:, 3] = (t >> 8) & 0xFF
    out[:, 4] = t & 0xFF
    p.parent.mkdir(parents=True, exist_ok=True)
    out.tofile(p)
    return p


# -- AEDAT 3.1 ----------------------------------------------------------------------------
def _aedat_body_offset(raw: np.ndarray, source: str) -> int:
    head = raw[: min(raw.size, 1 << 20)].tobytes()
    if not head.startswith(b"#!AER-DAT3"):
        raise StimulusError(f"{source}: not an AEDAT 3.x file (first line must start with '#!AER-DAT3')")
    end = head.find(AEDAT_END_HEADER)
    if end < 0:
        raise StimulusError(f"{source}: AEDAT header has no '#!END-HEADER' line")
    return end + len(AEDAT_END_HEADER)


def read_aedat31(path) -> np.ndarray:
    """Read all valid polarity events of an AEDAT 3.1 file.

    Packets of other types (special, frame, IMU, ...) and events whose valid bit is
    0 are skipped.

    Parameters
    ----------
    path : str or path

    Returns
    -------
    ndarray, shape (n_events,), EVENT_DTYPE
        Time-sorted events, ``t = (eventTSOverflow << 31) | timestamp`` in µs.

    Raises
    ------
    StimulusError
        Missing file, missing header, a truncated packet, or a polarity packet whose
        event size is not 8 bytes.
    """
    raw, source = _read_bytes(path, "AEDAT")
    pos = _aedat_body_offset(raw, source)
    hsize = AEDAT_PACKET_HEADER.itemsize
    words, overflows = [], []
    while pos < raw.size:  # one iteration per packet
        if pos + hsize > raw.size:
            raise StimulusError(f"{source}: truncated packet header at byte {pos}")
        h = raw[pos : pos + hsize].view(AEDAT_PACKET_HEADER)[0]
        size, number = int(h["eventSize"]), int(h["eventNumber"])
        if size <= 0 or number < 0:
            raise StimulusError(
                f"{source}: malformed packet header at byte {pos} (eventSize {size}, eventNumber {number})"
            )
        start, stop = pos + hsize, pos + hsize + size * number
        if stop > raw.size:
            raise StimulusError(f"{source}: truncated packet at byte {pos} ({number} events of {size} bytes announced)")
        if int(h["eventType"]) == AEDAT_POLARITY_EVENT and number > 0:
            if size != _AEDAT_POLARITY_SIZE:
                raise StimulusError(f"{source}: polarity packet at byte {pos} has eventSize {size}, expected 8")
            block = raw[start:stop].reshape(number, size)
            ts_off = int(h["eventTSOffset"])
            data = np.ascontiguousarray(block[:, 0:4]).view("<u4")[:, 0]
            ts = np.ascontiguousarray(block[:, ts_off : ts_off + 4]).view("<i4")[:, 0]
            words.append(np.stack([data.astype(np.int64), ts.astype(np.int64)], axis=1))
            overflows.append(np.full(number, int(h["eventTSOverflow"]), dtype=np.int64))
        pos = stop
    if not words:
        return np.empty(0, dtype=EVENT_DTYPE)
    w = np.concatenate(words)
    ovf = np.concatenate(overflows)
    data, ts = w[:, 0], w[:, 1]
    valid = (data & _VALID_MASK).astype(bool)
    data, ts, ovf = data[valid], ts[valid], ovf[valid]
    t = (ovf << _AEDAT_TS_OVERFLOW_SHIFT) | ts
    x = (data >> _X_SHIFT) & _ADDR_MASK
    y = (data >> _Y_SHIFT) & _ADDR_MASK
    pol = (data >> _POLARITY_SHIFT) & 1
    return make_events(x, y, t, pol)


def write_aedat31(
    path, events: np.ndarray, *, valid=None, packet_size: int = 4096, special_packet: bool = True, source_id: int = 1
) -> Path:
    """Write polarity events as an AEDAT 3.1 file (for tests and fixtures).

    Parameters
    ----------
    path : str or path
    events : ndarray, EVENT_DTYPE
        ``x, y < 2**15``; ``t >= 0`` µs (split into overflow and 31-bit timestamp).
    valid : array of bool, optional
        Per-event valid bit (default all valid); invalid events are written but a
        reader must skip them.
    packet_size : int
        Maximum events per polarity packet (packets also break where the timestamp
        overflow changes).
    special_packet : bool
        Also write a one-event "special" packet (type 0) first, as recorders do.
    source_id : int
        ``eventSource`` of every packet.
    """
    p = Path(path)
    ev = np.asarray(events)
    n = ev.size
    valid = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    t = ev["t"].astype(np.int64)
    if n and (t.min() < 0 or ev["x"].max() > _ADDR_MASK or ev["y"].max() > _ADDR_MASK):
        raise StimulusError(f"{p}: events do not fit AEDAT 3.1 (t >= 0, x, y < 2**15)")
    data = (
        (ev["x"].astype(np.uint32) << _X_SHIFT)
        | (ev["y"].astype(np.uint32) << _Y_SHIFT)
        | (ev["p"].astype(np.uint32) << _POLARITY_SHIFT)
        | valid.astype(np.uint32)
    )
    overflow = t >> _AEDAT_TS_OVERFLOW_SHIFT
    ts = (t & ((1 << _AEDAT_TS_OVERFLOW_SHIFT) - 1)).astype(np.int32)

    def header(etype, number, n_valid, ovf):
        h = np.zeros(1, dtype=AEDAT_PACKET_HEADER)
        h["eventType"], h["eventSource"], h["eventSize"] = etype, source_id, _AEDAT_POLARITY_SIZE
        h["eventTSOffset"], h["eventTSOverflow"] = 4, ovf
        h["eventCapacity"], h["eventNumber"], h["eventValid"] = number, number, n_valid
        return h.tobytes()

    chunks = [
        b"#!AER-DAT3.1\r\n",
        b"#Format: RAW\r\n",
        b"#Source 1: DVS128\r\n",
        b"#Start-Time: 1970-01-01 00:00:00 (TZ+0000)\r\n",
        AEDAT_END_HEADER,
    ]
    if special_packet:  # one valid special event (packet type 0); polarity readers skip it
        chunks += [header(0, 1, 1, 0), np.array([_VALID_MASK, 0], dtype="<u4").tobytes()]
    # packet boundaries: every packet_size events and wherever the overflow changes
    cuts = set(range(0, n, packet_size)) | set(np.flatnonzero(np.diff(overflow)) + 1)
    bounds = sorted(cuts) + [n]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        body = np.empty((b - a, 2), dtype="<u4")
        body[:, 0] = data[a:b]
        body[:, 1] = ts[a:b].view("<u4")
        chunks += [header(AEDAT_POLARITY_EVENT, b - a, int(valid[a:b].sum()), int(overflow[a])), body.tobytes()]
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"".join(chunks))
    return p


def read_dvs_gesture(aedat_path, labels_csv=None, *, shift_time: bool = True) -> list[tuple]:
    """Cut a DVS128 Gesture recording into its labelled gestures.

    Parameters
    ----------
    aedat_path : str or path
        ``userXX_<lighting>.aedat`` (AEDAT 3.1).
    labels_csv : str or path, optional
        Default ``<name>_labels.csv`` beside the recording.
    shift_time : bool
        If True (default), the events of each gesture are shifted so that ``t = 0``
        is the gesture's ``start_us``; otherwise times stay absolute.

    Returns
    -------
    list of (events, label, start_us, end_us)
        One entry per csv row, in file order: events with
        ``start_us <= t < end_us`` (EVENT_DTYPE), ``label`` 0-based (csv class - 1),
        and the window in absolute µs.

    Raises
    ------
    StimulusError
        Missing/ malformed recording or csv, a class outside 1..11, or
        ``end_us <= start_us``.
    """
    a = Path(aedat_path)
    lab = Path(labels_csv) if labels_csv is not None else a.with_name(a.stem + "_labels.csv")
    if not lab.is_file():
        raise StimulusError(f"{lab}: DVS Gesture labels csv not found")
    rows = _read_gesture_csv(lab)
    events = read_aedat31(a)
    t = events["t"]
    out = []
    for cls, start, end in rows:
        lo, hi = np.searchsorted(t, [start, end], side="left")
        cut = events[lo:hi].copy()
        if shift_time:
            cut["t"] -= start
        out.append((cut, cls - 1, start, end))
    return out


def _read_gesture_csv(path: Path) -> list[tuple[int, int, int]]:
    with open(path, newline="") as fh:
        lines = [row for row in csv.reader(fh) if row and any(c.strip() for c in row)]
    if not lines:
        raise StimulusError(f"{path}: empty labels csv")
    head = [c.strip() for c in lines[0]]
    if head[:3] != ["class", "startTime_usec", "endTime_usec"]:
        raise StimulusError(f"{path}: header must be 'class,startTime_usec,endTime_usec', got {lines[0]}")
    rows = []
    for i, row in enumerate(lines[1:], start=2):
        try:
            cls, start, end = (int(float(c)) for c in row[:3])
        except ValueError as exc:
            raise StimulusError(f"{path}: line {i}: {row} is not three integers") from exc
        if not 1 <= cls <= DVS_GESTURE_N_CLASSES:
            raise StimulusError(f"{path}: line {i}: class {cls} outside 1..{DVS_GESTURE_N_CLASSES}")
        if end <= start:
            raise StimulusError(f"{path}: line {i}: end {end} <= start {start}")
        rows.append((cls, start, end))
    return rows


# -- NumPy files --------------------------------------------------------------------------
def read_npy_events(path) -> np.ndarray:
    """Read events stored with :func:`numpy.save`.

    Accepts a structured array with fields ``x, y, t, p`` (any numeric dtypes) or a
    plain ``(N, 4)`` array in ``x, y, t, p`` column order.  Polarity ``p > 0`` is ON
    (1), anything else OFF (0), so ``{-1, 1}`` coding is accepted.

    Returns
    -------
    ndarray, shape (n_events,), EVENT_DTYPE, time-sorted
    """
    p = Path(path)
    if not p.is_file():
        raise StimulusError(f"{p}: event file not found")
    try:
        arr = np.load(p, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is bad input
        raise StimulusError(f"{p}: cannot load as .npy ({exc})") from exc
    if not isinstance(arr, np.ndarray):
        raise StimulusError(f"{p}: expected a single array, got {type(arr).__name__}")
    if arr.dtype.names is not None:
        missing = {"x", "y", "t", "p"} - set(arr.dtype.names)
        if missing:
            raise StimulusError(f"{p}: structured array lacks fields {sorted(missing)}")
        x, y, t, pol = (arr[f].reshape(-1) for f in ("x", "y", "t", "p"))
    elif arr.ndim == 2 and arr.shape[1] == 4:
        x, y, t, pol = arr.T
    else:
        raise StimulusError(f"{p}: expected a structured x,y,t,p array or shape (N, 4), got {arr.shape} {arr.dtype}")
    if x.size and (
        x.min() < 0 or y.min() < 0 or x.max() > np.iinfo(np.uint16).max or y.max() > np.iinfo(np.uint16).max
    ):
        raise StimulusError(f"{p}: pixel coordinates must lie in [0, 65535]")
    return make_events(x.astype(np.int64), y.astype(np.int64), np.rint(t).astype(np.int64), (pol > 0).astype(np.uint8))


def sensor_size_of(events: np.ndarray, n_polarities: int = 2) -> tuple[int, int, int]:
    """Smallest ``(width, height, polarities)`` holding all events: ``(max x + 1, max y + 1, P)``."""
    ev = np.asarray(events)
    if ev.size == 0:
        raise StimulusError("sensor_size_of: no events; give sensor_size explicitly")
    return int(ev["x"].max()) + 1, int(ev["y"].max()) + 1, int(n_polarities)


def event_frames(events: np.ndarray, n_frames: int, sensor_size: tuple[int, int, int]) -> np.ndarray:
    """Accumulate events into ``n_frames`` grey frames of equal duration, scaled to [0, 1].

    Every event (either polarity) adds one to its pixel in the frame of its time bin:
    bin ``floor(n_frames * (t - t0) / (t1 - t0 + 1))`` between the first and last event
    time.  The counts are divided by the clip's largest count, so the busiest pixel of
    the clip is 1.

    Parameters
    ----------
    events : event array
        :data:`~stimuli.types.EVENT_DTYPE`, any order.
    n_frames : int
        Frames (time bins) of the clip.
    sensor_size : (width, height, polarities)

    Returns
    -------
    ndarray of float32, shape (n_frames, height, width)
    """
    ev = np.asarray(events)
    if ev.size == 0:
        raise StimulusError("event_frames: no events")
    width, height = int(sensor_size[0]), int(sensor_size[1])
    x, y = ev["x"].astype(np.int64), ev["y"].astype(np.int64)
    if x.max() >= width or y.max() >= height:
        raise StimulusError(f"event_frames: events outside the {width}x{height} sensor")
    t = ev["t"].astype(np.int64)
    span = int(t.max() - t.min()) + 1
    b = (int(n_frames) * (t - t.min())) // span
    counts = np.zeros((int(n_frames), height, width), dtype=np.float32)
    np.add.at(counts, (b, y, x), 1.0)
    return counts / counts.max()
