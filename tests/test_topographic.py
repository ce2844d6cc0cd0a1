"""Topographic reservoir input: every input synapse in its neuron's receptive field, as many as random projection."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from networks.hrsnn import HRSNN
from networks.reservoir import draw_reservoir
from networks.topology import tile_receptive_fields, topographic_input_connectivity
from stimuli.types import SpikeStimulus, channel_positions

MAPS, H, W = 2, 12, 16  # two polarities on a 16 x 12 frame: 384 channels


def _clips(n=4, seed=0):
    rng = np.random.default_rng(seed)
    meta = {"channel_shape": (MAPS, H, W), "channel_order": "myx"}
    out = []
    for k in range(n):
        s, c = np.nonzero(rng.random((30, MAPS * H * W)) < 0.02)
        out.append(SpikeStimulus(c, s, MAPS * H * W, 30, 1.0, label=k % 2, meta={**meta, "id": f"c{k}"}))
    return out


def _model(**params):
    base = dict(n=120, p_in=0.1, device="numpy", seed=4, progress=False, snapshots=0, record_v=0)
    return HRSNN(**{**base, **params})


def _draw(model, clips):
    model.channel_positions_ = channel_positions(clips[0]) if model.input_wiring == "topographic" else None
    return draw_reservoir(model, n_input=clips[0].n_channels, seed=model.seed)


def test_every_input_synapse_lies_in_its_neurons_receptive_field():
    clips = _clips()
    model = _model(input_wiring="topographic", rf_tiles=(4, 3), rf_overlap=1)
    structure = _draw(model, clips).structure
    pos = channel_positions(clips[0])
    fields = tile_receptive_fields(pos, (4, 3), 1)
    first = {"in_exc": 0, "in_inh": model.n_exc}
    for pw in ("in_exc", "in_inh"):
        i, j = structure[pw]
        tile = (first[pw] + j) % 12
        rows, cols = (tile // 4) * (H // 3), (tile % 4) * (W // 4)  # the tile's top-left pixel
        assert np.all((pos[i, 1] >= rows - 1) & (pos[i, 1] < rows + H // 3 + 1))
        assert np.all((pos[i, 2] >= cols - 1) & (pos[i, 2] < cols + W // 4 + 1))
        assert all(np.isin(i[j == n], fields[t]).all() for n, t in enumerate((first[pw] + np.arange(j.max() + 1)) % 12))
        assert set(np.unique(pos[i, 0])) == {0, 1}  # both polarities of the field


def test_random_projection_spreads_the_same_counts_over_the_frame():
    clips = _clips()
    topo = _draw(_model(input_wiring="topographic", rf_tiles=(4, 3), rf_overlap=1), clips).structure
    rand = _draw(_model(), clips).structure
    pos = channel_positions(clips[0])
    n_input = MAPS * H * W
    for pw, n_post in (("in_exc", 96), ("in_inh", 24)):
        deg_t = np.bincount(topo[pw][1], minlength=n_post)
        deg_r = np.bincount(rand[pw][1], minlength=n_post)
        # the same in-degree law: Binomial(n_input, p_in) per neuron (a field of 2 x 6 x 8 = 96 channels
        # holds every draw: mean 38.4, sd 5.9)
        assert abs(deg_t.mean() - 0.1 * n_input) < 3 and abs(deg_r.mean() - 0.1 * n_input) < 3
        assert abs(deg_t.std() - deg_r.std()) < 3
        # where: a field covers 6 x 8 of the 12 x 16 pixels; a random neuron's inputs span the frame
        span = lambda i, j, n: np.ptp(pos[i[j == n], 1]) + np.ptp(pos[i[j == n], 2])  # noqa: E731
        assert max(span(*topo[pw], n) for n in range(n_post)) <= 5 + 7
        assert np.median([span(*rand[pw], n) for n in range(n_post)]) >= 20
    for pw in ("ee", "ei", "ie", "ii"):  # the recurrent wiring is the same for both input schemes
        np.testing.assert_array_equal(topo[pw][0], rand[pw][0])
        np.testing.assert_array_equal(topo[pw][1], rand[pw][1])


def test_topographic_connectivity_keeps_a_neurons_count_within_a_small_field():
    fields = [np.arange(5), np.arange(5, 50)]
    i, j, tiles = topographic_input_connectivity(fields, 50, 6, 0.5, seed=0)  # ~25 wanted, 5 in tile 0
    np.testing.assert_array_equal(tiles, [0, 1, 0, 1, 0, 1])
    for n in (0, 2, 4):
        np.testing.assert_array_equal(np.sort(i[j == n]), np.arange(5))  # the whole field
    assert all(np.isin(i[j == n], fields[1]).all() and (j == n).sum() > 10 for n in (1, 3, 5))
    assert np.all(np.diff(i.astype(np.int64) * 6 + j) > 0)  # sorted by (i, j), no duplicate
    with pytest.raises(ValueError, match="at least one input channel"):
        topographic_input_connectivity([np.arange(3), np.zeros(0, int)], 3, 2, 0.5)


def test_a_fitted_topographic_reservoir_saves_loads_and_needs_a_frame_geometry(tmp_path):
    clips = _clips()
    model = _model(input_wiring="topographic", rf_tiles=(2, 2), J_in=3.0).fit(clips[:2])
    np.testing.assert_array_equal(model.channel_positions_, channel_positions(clips[0]))
    X = model.transform(clips[2:])
    assert X.shape == (2, model.n_features_out_) and X.sum() > 0
    model.save_state(tmp_path / "m.npz")
    loaded = clone(model).load_state(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.channel_positions_, model.channel_positions_)
    np.testing.assert_array_equal(loaded.transform(clips[2:]), X)
    flat = [SpikeStimulus(c.indices, c.steps, c.n_channels, c.n_steps, c.dt, meta={"id": "flat"}) for c in clips]
    with pytest.raises(ValueError, match="input_wiring: 'topographic' needs the frame geometry.*flat"):
        clone(model).fit(flat[:2])
    with pytest.raises(ValueError, match=r"rf_tiles: expected two integers >= 1"):
        clone(model).set_params(rf_tiles=(0, 2)).fit(clips[:2])


def test_a_state_saved_before_a_hyperparameter_existed_loads_with_its_default(tmp_path):
    """Files written before ``input_wiring`` existed were fitted with random projection."""
    import json

    clips = _clips()
    model = _model(J_in=3.0).fit(clips[:2])
    model.save_state(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as z:
        arrays = {k: z[k] for k in z.files}
    params = json.loads(str(arrays["hyperparameters"]))
    for key in ("input_wiring", "rf_tiles", "rf_overlap"):
        del params[key]
    arrays["hyperparameters"] = np.array(json.dumps(params))
    np.savez(tmp_path / "old.npz", **arrays)
    loaded = clone(model).load_state(tmp_path / "old.npz")
    np.testing.assert_array_equal(loaded.transform(clips[2:]), model.transform(clips[2:]))
    with pytest.raises(ValueError, match="input_wiring=.random. \\(this estimator: .topographic.\\)"):
        clone(model).set_params(input_wiring="topographic").load_state(tmp_path / "old.npz")
