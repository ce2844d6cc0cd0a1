"""Stored stimuli: read back from the cache when used, the same clips as in memory, clear errors when gone."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from networks.timeline import Timeline
from stimuli.cache import StimulusCache
from stimuli.encoders import get_encoder
from stimuli.sequence import StoredStimuli, stimulus_headers
from stimuli.types import Sample, StimulusError, check_stimuli


def _samples(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return [
        Sample(rng.random((4 + k % 3, 6, 5)).astype(np.float32), label=k % 2, meta={"id": f"clip{k}"}) for k in range(n)
    ]


@pytest.fixture
def stored(tmp_path):
    """Six Poisson-encoded clips through a cache, with nothing held in memory, and the same clips in memory."""
    cache, enc = StimulusCache(tmp_path / "cache"), get_encoder("poisson", max_rate=300.0, seed=1)
    in_memory = [cache.get_or_encode(s, enc) for s in _samples()]
    return StoredStimuli.collect(cache.root, iter(in_memory), resident_mb=0), in_memory


def _same(a, b):
    return (
        np.array_equal(a.indices, b.indices)
        and np.array_equal(a.steps, b.steps)
        and (a.n_channels, a.n_steps, a.dt, a.label) == (b.n_channels, b.n_steps, b.dt, b.label)
        and a.meta["id"] == b.meta["id"]
    )


def test_stored_clips_read_back_equal_the_encoded_ones(stored):
    seq, clips = stored
    assert seq.n_resident == 0 and seq.resident_bytes == 0
    assert len(seq) == 6 and all(_same(a, b) for a, b in zip(seq, clips, strict=True))
    assert _same(seq[-1], clips[-1])
    np.testing.assert_array_equal(seq.labels, [c.label for c in clips])
    head = stimulus_headers(seq)
    np.testing.assert_array_equal(head, stimulus_headers(clips))  # the headers say what the clips say
    np.testing.assert_array_equal(head["n_spikes"], [c.n_spikes for c in clips])
    part = seq[1:5:2]
    assert isinstance(part, StoredStimuli) and part.ids == ["clip1", "clip3"]
    assert _same(part[1], clips[3]) and _same(seq[[4, 0]][0], clips[4])
    with pytest.raises(IndexError):
        seq[6]
    again = pickle.loads(pickle.dumps(seq))  # a worker process on this machine reads the same files
    assert all(_same(a, b) for a, b in zip(again, clips, strict=True))


def test_the_memory_budget_keeps_the_first_clips_and_reads_none_of_them_again(stored, monkeypatch):
    _, clips = stored
    two = (clips[0].n_spikes + clips[1].n_spikes) * 12 / 2**20  # MB of the first two clips' spikes
    seq = StoredStimuli.collect(stored[0].root, iter(clips), resident_mb=two)
    assert seq.n_resident == 2 and seq.resident_bytes == (clips[0].n_spikes + clips[1].n_spikes) * 12
    assert seq[0] is clips[0] and seq[2:][0] is not clips[2]
    assert seq[1:].n_resident == 1  # slices keep what is held
    everything = StoredStimuli.collect(stored[0].root, iter(clips))  # the default budget: all of them
    monkeypatch.setattr(StoredStimuli, "_read", lambda self, k: pytest.fail(f"clip {k} read from disk"))
    assert everything.n_resident == 6 and [s for s in everything] == clips


def test_checks_and_layout_come_from_the_headers_without_reading_a_clip(stored, monkeypatch):
    seq, clips = stored
    monkeypatch.setattr(StoredStimuli, "_read", lambda self, k: pytest.fail(f"clip {k} read from disk"))
    assert check_stimuli(seq) is seq
    with pytest.raises(StimulusError, match=r"6 stimuli have another number of input channels than 7: clip0"):
        check_stimuli(seq, 7)
    lazy = Timeline([(seq, True), (seq[:3], False)], dt=0.5, gap=3.0, with_input=False)
    full = Timeline([(clips, True), (clips[:3], False)], dt=0.5, gap=3.0)
    for (w1, p1), (w2, p2) in zip(lazy.phase_windows(), full.phase_windows(), strict=True):
        np.testing.assert_array_equal(w1, w2)
        assert p1 == p2
    assert lazy.total_steps == full.total_steps and lazy.train_steps == full.train_steps
    assert lazy.indices.size == 0 and full.indices.size == sum(c.n_spikes for c in clips + clips[:3])


def test_a_cleared_or_replaced_cache_file_is_named(stored):
    seq, clips = stored
    path = StimulusCache(seq.root).path_for(seq.keys[2])
    other = StimulusCache(seq.root).path_for(seq.keys[3])
    path.write_bytes(other.read_bytes())  # another clip's entry under this key
    with pytest.raises(StimulusError, match=rf"clip2: cannot read its encoded spikes {path}"):
        seq[2]
    path.unlink()
    with pytest.raises(StimulusError, match=r"clip2: its encoded spikes .* are gone .* rerun the command"):
        list(seq)
    assert _same(seq[3], clips[3])  # the others still read


def test_clips_without_a_cache_key_are_refused(stored):
    _, clips = stored
    plain = [type(c)(c.indices, c.steps, c.n_channels, c.n_steps, c.dt, label=c.label) for c in clips]
    with pytest.raises(ValueError, match="clip 0 .*no meta\\['cache_key'\\]"):
        StoredStimuli.collect("unused", plain)


def test_spikes_made_elsewhere_are_stored_under_a_key_of_their_own(stored, tmp_path):
    _, clips = stored
    cache = StimulusCache(tmp_path / "own")
    plain = type(clips[0])(clips[0].indices, clips[0].steps, clips[0].n_channels, clips[0].n_steps, 1.0, label=1)
    assert cache.put("00ab", plain).meta["cache_key"] == "00ab"
    seq = StoredStimuli.collect(cache.root, [plain], resident_mb=0)
    assert _same_spikes(seq[0], plain) and seq[0].label == 1
    for bad in ("AB12", "x", "../etc"):
        with pytest.raises(ValueError, match="hex string"):
            cache.put(bad, plain)


def _same_spikes(a, b):
    return np.array_equal(a.indices, b.indices) and np.array_equal(a.steps, b.steps)
