"""What determines a result, so that a resumed run reuses only results that still match.

Every artefact a run writes (the trained model, each feature chunk, the raster) carries
a :class:`Provenance`: the spikevid version, a digest of the configuration, the identity
of every input clip it was computed from (:func:`stimuli.cache.stimulus_key`: the file,
its decoded content and the encoder's parameters) and the fingerprint of the artefact
it builds on (a feature chunk on its model).  On resume, an artefact is reused only if
its stored provenance equals the one the run would give it now; otherwise the run says
what changed and computes it again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from stimuli.sequence import StoredStimuli

__all__ = ["Provenance", "digest", "input_identities"]


def digest(obj) -> str:
    """Hex SHA-256 of ``obj`` as canonical JSON (sorted keys)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def input_identities(stimuli) -> dict[str, str]:
    """``{sample id: stimulus key}`` of encoded stimuli (ids must be unique)."""
    if isinstance(stimuli, StoredStimuli):  # known without reading a clip
        pairs = zip(stimuli.ids, stimuli.keys, strict=True)
    else:
        pairs = ((str(s.meta.get("id", k)), str(s.meta.get("cache_key", ""))) for k, s in enumerate(stimuli))
    out = {}
    for sid, key in pairs:
        if sid in out:
            raise ValueError(f"input id {sid!r} occurs twice: a dataset index lists a sample twice")
        out[sid] = key
    return out


@dataclass(frozen=True)
class Provenance:
    """The inputs of one artefact.

    Attributes
    ----------
    version : str
        spikevid version that computed it.
    config : str
        Digest of the run's configuration (volatile keys left out).
    inputs : dict of str -> str
        Sample id -> stimulus key, in presentation order.
    parent : str
        Fingerprint of the artefact it was computed from ("" for none).
    """

    version: str
    config: str
    inputs: dict[str, str] = field(default_factory=dict)
    parent: str = ""

    @property
    def fingerprint(self) -> str:
        """Digest of everything above."""
        return digest(asdict(self))

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> Provenance:
        d = json.loads(text)
        return cls(str(d["version"]), str(d["config"]), dict(d.get("inputs") or {}), str(d.get("parent", "")))

    def changes(self, stored: Provenance) -> list[str]:
        """What differs from a ``stored`` provenance, in words (empty if nothing)."""
        out = []
        if stored.version != self.version:
            out.append(f"spikevid {stored.version} -> {self.version}")
        if stored.config != self.config:
            out.append("the configuration changed")
        old, new = stored.inputs, self.inputs
        changed = [k for k in new if k in old and old[k] != new[k]]
        added, removed = [k for k in new if k not in old], [k for k in old if k not in new]
        for what, ids in (("changed", changed), ("new", added), ("gone", removed)):
            if ids:
                shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
                out.append(f"{len(ids)} input(s) {what} ({shown})")
        if not (changed or added or removed) and list(old) != list(new):
            out.append("the inputs are in another order")
        if stored.parent != self.parent:
            out.append("it was computed from another model")
        return out
