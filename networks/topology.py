"""Where reservoir neurons sit and whom they connect to.

Two connection schemes for recurrent pathways:

``random``
    each ordered pair connects with probability ``p`` (Erdos-Renyi).
``distance``
    neurons sit on a 3-D integer grid (as in Maass, Natschlaeger & Markram 2002);
    a pair at Euclidean distance ``d`` connects with probability
    ``C * exp(-(d / lam)**2)``, so ``lam`` sets the connection length scale.

Both draw with NumPy from the given seed, so every device gets the same network.
:data:`PATHWAYS` names the reservoir's six pathways; :func:`reservoir_connectivity`
draws all of them.

Receptive fields of tiled cortical columns: :func:`tile_receptive_fields` cuts the
frame into ``gx x gy`` rectangles (``numpy.array_split`` of the columns and rows,
widened by ``overlap`` pixels on every side) and gives each tile the input channels
on it, of every map (polarity); :func:`column_input_connectivity` connects each
column's layer neurons to the channels of its own field only.

Topographic reservoir input: :func:`topographic_input_connectivity` places the
reservoir's neurons on the same tiles (dealt in turn, so excitatory and inhibitory
neurons cover the frame alike) and draws each neuron's input synapses from its tile's
field only, as many as random projection would give it, so the two schemes differ
in *where* a neuron looks, not in how much it sees.
"""

from __future__ import annotations

import numpy as np

from cortex.seeds import SeedLike, make_rng
from cortex.synapses import connectivity

__all__ = [
    "PATHWAYS",
    "PLASTIC_PATHWAYS",
    "CONNECTION_SCHEMES",
    "grid_shape",
    "grid_positions",
    "distance_connectivity",
    "reservoir_connectivity",
    "fan_out",
    "tile_receptive_fields",
    "column_input_connectivity",
    "topographic_input_connectivity",
]

#: The reservoir's pathways: name -> (source, target, excitatory?).
PATHWAYS = {
    "in_exc": ("input", "exc", True),
    "in_inh": ("input", "inh", True),
    "ee": ("exc", "exc", True),
    "ei": ("exc", "inh", True),
    "ie": ("inh", "exc", False),
    "ii": ("inh", "inh", False),
}
#: Pathways that may carry STDP (excitatory ones onto or within the reservoir).
PLASTIC_PATHWAYS = ("in_exc", "in_inh", "ee")
#: Recurrent connection schemes of :func:`reservoir_connectivity`.
CONNECTION_SCHEMES = ("random", "distance")


def grid_shape(n: int) -> tuple[int, int, int]:
    """Smallest near-cubic 3-D grid ``(nx, ny, nz)`` holding ``n`` points."""
    side = int(np.ceil(n ** (1 / 3)))
    nx = ny = side
    nz = int(np.ceil(n / (nx * ny)))
    return nx, ny, nz


def grid_positions(n: int, seed: SeedLike = None) -> np.ndarray:
    """Positions of ``n`` neurons on a 3-D grid, shape ``(n, 3)`` (grid units).

    Grid points are assigned in a random order (seeded) so that excitatory and
    inhibitory neurons are interleaved in space.
    """
    nx, ny, nz = grid_shape(n)
    pts = np.stack(np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij"), -1).reshape(-1, 3)
    rng = make_rng(seed)
    return pts[rng.permutation(len(pts))[:n]].astype(float)


def distance_connectivity(
    pos_pre: np.ndarray,
    pos_post: np.ndarray,
    C: float,
    lam: float,
    *,
    seed: SeedLike = None,
    autapses: bool = False,
    chunk: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw connections with probability ``C * exp(-(d/lam)**2)``.

    Parameters
    ----------
    pos_pre, pos_post : ndarray, shape (n_pre, 3), (n_post, 3)
        Positions in grid units.
    C : float
        Connection probability at distance 0, in [0, 1].
    lam : float
        Length constant in grid units (> 0).
    autapses : bool
        Allow ``i == j`` (only meaningful when pre and post are the same group).

    Returns
    -------
    i, j : ndarray of int32
    """
    if not 0.0 <= C <= 1.0:
        raise ValueError(f"C: a connection probability must lie in [0, 1], got {C}")
    if lam <= 0:
        raise ValueError(f"lam: the connection length constant must be positive, got {lam}")
    rng = make_rng(seed)
    ii, jj = [], []
    for a in range(0, len(pos_pre), chunk):  # memory O(chunk * n_post)
        d2 = ((pos_pre[a : a + chunk, None, :] - pos_post[None, :, :]) ** 2).sum(-1)
        p = C * np.exp(-d2 / lam**2)
        i, j = np.nonzero(rng.random(p.shape) < p)
        ii.append(i + a)
        jj.append(j)
    i = np.concatenate(ii) if ii else np.zeros(0, int)
    j = np.concatenate(jj) if jj else np.zeros(0, int)
    if not autapses:
        keep = i != j
        i, j = i[keep], j[keep]
    return i.astype(np.int32), j.astype(np.int32)


def reservoir_connectivity(
    n_input: int,
    n_exc: int,
    n_inh: int,
    probabilities: dict[str, float],
    *,
    scheme: str = "random",
    lam: float = 2.0,
    seed: SeedLike = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Draw every pathway of :data:`PATHWAYS` (input pathways always at random).

    Parameters
    ----------
    n_input, n_exc, n_inh : int
        Population sizes.
    probabilities : dict of str -> float
        Connection probability of each pathway (``in_exc``, ``in_inh``, ``ee``, ``ei``,
        ``ie``, ``ii``); for ``scheme="distance"`` the peak probability of the
        recurrent ones.
    scheme : {"random", "distance"}
        Recurrent connectivity (see module docstring); neurons are placed on one
        3-D grid, excitatory first.
    lam : float
        Length constant of ``distance`` (grid units).
    seed : int, numpy.random.Generator or None

    Returns
    -------
    dict of str -> (i, j)
        Pre- and postsynaptic indices of each pathway, in :data:`PATHWAYS` order.
    """
    if scheme not in CONNECTION_SCHEMES:
        raise ValueError(f"connect: expected one of {CONNECTION_SCHEMES}, got {scheme!r}")
    rng = make_rng(seed)
    sizes = {"input": n_input, "exc": n_exc, "inh": n_inh}
    structure = {
        name: connectivity(n_input, sizes[PATHWAYS[name][1]], probabilities[name], seed=rng)
        for name in ("in_exc", "in_inh")
    }
    recurrent = [name for name in PATHWAYS if PATHWAYS[name][0] != "input"]
    if scheme == "random":
        for name in recurrent:
            src, tgt, _ = PATHWAYS[name]
            structure[name] = connectivity(sizes[src], sizes[tgt], probabilities[name], seed=rng, autapses=src != tgt)
    else:
        pos = grid_positions(n_exc + n_inh, seed=rng)
        where = {"exc": pos[:n_exc], "inh": pos[n_exc:]}
        for name in recurrent:
            src, tgt, _ = PATHWAYS[name]
            structure[name] = distance_connectivity(
                where[src], where[tgt], probabilities[name], lam, seed=rng, autapses=src != tgt
            )
    return structure


def fan_out(structure: dict, sizes: dict, pathways: dict | None = None) -> dict[str, np.ndarray]:
    """Outgoing synapses of every source neuron, summed over pathways.

    Parameters
    ----------
    structure : dict of str -> (i, j)
        Presynaptic and postsynaptic indices of each pathway (``HRSNN.structure_``).
    sizes : dict of str -> int
        Number of neurons of each source population (``input``, ``exc``, ``inh``).
    pathways : dict of str -> (source, target, excitatory), optional
        Default :data:`PATHWAYS`.

    Each spike of a source neuron causes as many synaptic operations as its fan-out.

    Returns
    -------
    dict of str -> ndarray of int
        Fan-out per neuron of each source population.
    """
    pathways = PATHWAYS if pathways is None else pathways
    out = {pop: np.zeros(int(n), dtype=np.int64) for pop, n in sizes.items()}
    for name, (i, _) in structure.items():
        src = pathways[name][0]
        out[src] += np.bincount(np.asarray(i, dtype=np.int64), minlength=len(out[src]))
    return out


def tile_receptive_fields(positions: np.ndarray, tiles: tuple[int, int], overlap: int = 0) -> list[np.ndarray]:
    """Input channels of each tile of the frame, tiles in row-major order.

    Parameters
    ----------
    positions : ndarray of int, shape (n_channels, 3)
        ``(map, row, col)`` of every channel (:func:`stimuli.types.channel_positions`).
    tiles : (gx, gy)
        Tiles across the width (columns of pixels) and down the height (rows).
    overlap : int
        Pixels each field extends beyond its tile on every side (clipped at the frame).

    Returns
    -------
    list of ndarray of int64
        ``gx * gy`` sorted channel arrays; tile ``ty * gx + tx`` covers the ``tx``-th
        band of columns and the ``ty``-th band of rows.

    Raises
    ------
    ValueError
        More tiles than pixels along an axis, or a negative ``overlap``.
    """
    gx, gy = (int(v) for v in tiles)
    positions = np.asarray(positions, dtype=np.int64).reshape(-1, 3)
    height, width = int(positions[:, 1].max()) + 1, int(positions[:, 2].max()) + 1
    if gx < 1 or gy < 1 or gx > width or gy > height:
        raise ValueError(f"tiles: ({gx}, {gy}) does not fit a frame of {width} x {height} pixels (width x height)")
    if overlap < 0:
        raise ValueError(f"overlap: must be >= 0 pixels, got {overlap}")
    rows = np.array_split(np.arange(height), gy)
    cols = np.array_split(np.arange(width), gx)
    fields = []
    for band_rows in rows:
        in_rows = (positions[:, 1] >= band_rows[0] - overlap) & (positions[:, 1] <= band_rows[-1] + overlap)
        for band_cols in cols:
            in_cols = (positions[:, 2] >= band_cols[0] - overlap) & (positions[:, 2] <= band_cols[-1] + overlap)
            fields.append(np.flatnonzero(in_rows & in_cols))
    return fields


def column_input_connectivity(
    fields: list[np.ndarray], n_per_column: int, p: float = 1.0, *, seed: SeedLike = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Input -> layer synapses of tiled columns: each column's neurons see only its field.

    Parameters
    ----------
    fields : list of ndarray of int
        Input channels of each column (:func:`tile_receptive_fields`).
    n_per_column : int
        Layer neurons per column; column ``t`` holds neurons ``t * n_per_column ...``.
    p : float
        Probability of each (channel in field, neuron of the column) synapse.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    i, j : ndarray of int32
        Input channel and layer neuron of each synapse.
    columns : ndarray of int32, shape (len(fields) * n_per_column,)
        Column of each layer neuron.
    """
    rng = make_rng(seed)
    ii, jj = [], []
    for t, field in enumerate(fields):
        i, j = connectivity(len(field), n_per_column, p, seed=rng)
        ii.append(np.asarray(field, dtype=np.int64)[i])
        jj.append(j.astype(np.int64) + t * n_per_column)
    i = np.concatenate(ii) if ii else np.zeros(0, np.int64)
    j = np.concatenate(jj) if jj else np.zeros(0, np.int64)
    columns = np.repeat(np.arange(len(fields)), n_per_column)
    return i.astype(np.int32), j.astype(np.int32), columns.astype(np.int32)


def topographic_input_connectivity(
    fields: list[np.ndarray], n_input: int, n_post: int, p: float, *, first_tile: int = 0, seed: SeedLike = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Input -> reservoir synapses through local receptive fields.

    Parameters
    ----------
    fields : list of ndarray of int
        Input channels of each tile (:func:`tile_receptive_fields`).
    n_input : int
        All input channels.
    n_post : int
        Neurons of the target population; neuron ``j`` sits on tile
        ``(first_tile + j) % len(fields)``.
    p : float
        Connection probability of random projection: each neuron draws
        ``Binomial(n_input, p)`` inputs, uniformly without replacement from its field
        (all of the field when it holds fewer channels).
    first_tile : int
        Tile of neuron 0 (a second population continues where the first stopped).
    seed : int, numpy.random.Generator or None

    Returns
    -------
    i, j : ndarray of int32
        Input channel and target neuron of each synapse, sorted by ``(i, j)``.
    tiles : ndarray of int32, shape (n_post,)
        Tile of each neuron.
    """
    if not fields or any(len(f) == 0 for f in fields):
        raise ValueError("topographic input: every receptive field needs at least one input channel")
    rng = make_rng(seed)
    tiles = (int(first_tile) + np.arange(int(n_post))) % len(fields)
    counts = rng.binomial(int(n_input), float(p), size=int(n_post))
    ii, jj = [], []
    for j, (tile, k) in enumerate(zip(tiles, counts, strict=True)):
        field = np.asarray(fields[tile], dtype=np.int64)
        pick = field if k >= len(field) else rng.choice(field, size=int(k), replace=False)
        ii.append(pick)
        jj.append(np.full(len(pick), j, dtype=np.int64))
    i = np.concatenate(ii) if ii else np.zeros(0, np.int64)
    j = np.concatenate(jj) if jj else np.zeros(0, np.int64)
    order = np.lexsort((j, i))
    return i[order].astype(np.int32), j[order].astype(np.int32), tiles.astype(np.int32)
