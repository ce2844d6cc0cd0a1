"""Type checks of keyword options from their annotations, before any work.

Dataset options, split options and encoder parameters arrive from YAML and the
command line, where ``n_subjects: 3.9``, ``polarity: "no"`` or ``size: 16`` are easy
to write.  Python would take them (``int(3.9)``, a truthy string, a failed unpack
much later); :func:`check_options` rejects them first, naming the owner and the
option::

    synthetic: option n_subjects must be an integer, got 3.9

The annotation (a string under ``from __future__ import annotations``) is the rule.
Understood: ``int``, ``float``, ``bool``, ``str``, ``None``, ``tuple[T, ...]`` of a
fixed length, ``Sequence[T]`` and unions with ``|``; anything else (``Any``, paths)
is accepted here and left to the owner.  Ranges are checked by the owner.
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
from collections.abc import Callable, Mapping

__all__ = ["check_options", "check_value", "mismatch", "annotations_of"]

_GENERIC = re.compile(r"^(tuple|Sequence|list)\[(.*)\]$")


def _split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` on ``sep`` outside brackets."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == sep and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return out


def _matches(value, rule: str) -> bool | None:
    """True/False when ``rule`` is understood, None when it is not."""
    if rule == "None":
        return value is None
    if rule == "bool":
        return isinstance(value, bool)
    if rule == "int":
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if rule == "float":
        return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if rule == "str":
        return isinstance(value, str)
    m = _GENERIC.match(rule)
    if not m:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        return False
    kind, args = m.group(1), _split_top(m.group(2), ",")
    if kind == "tuple" and not (len(args) == 2 and args[1] == "..."):
        if len(value) != len(args):
            return False
        checks = [_matches_union(v, a) for v, a in zip(value, args, strict=True)]
    else:
        checks = [_matches_union(v, args[0]) for v in value]
    return all(c is not False for c in checks)


def _matches_union(value, annotation: str) -> bool | None:
    results = [_matches(value, alt) for alt in _split_top(annotation, "|")]
    if any(r is True for r in results):
        return True
    return None if any(r is None for r in results) else False


def _describe(annotation: str) -> str:
    words = {
        "int": "an integer",
        "float": "a finite number",
        "bool": "true or false",
        "str": "a string",
        "None": "null",
    }
    parts = []
    for alt in _split_top(annotation, "|"):
        m = _GENERIC.match(alt)
        if alt in words:
            parts.append(words[alt])
        elif m and m.group(1) == "tuple" and not m.group(2).endswith("..."):
            items = _split_top(m.group(2), ",")
            inner = words.get(items[0], items[0]).split(" ", 1)[-1]
            parts.append(f"a list of {len(items)} {inner}s" if len(set(items)) == 1 else f"a list [{m.group(2)}]")
        elif m:
            inner = _split_top(m.group(2), ",")[0]
            parts.append(f"a list of {words.get(inner, inner).split(' ', 1)[-1]}s")
        else:
            parts.append(alt)
    return " or ".join(parts)


def mismatch(value, annotation) -> str | None:
    """``"must be <rule>, got <value>"`` when ``value`` does not fit ``annotation``, else None."""
    if not isinstance(annotation, str) or not annotation:
        return None
    if _matches_union(value, annotation) is False:
        return f"must be {_describe(annotation)}, got {value!r}"
    return None


def check_value(owner: str, name: str, value, annotation: str, what: str = "option") -> None:
    """Raise ValueError ``"<owner>: <what> <name> must be <rule>, got <value>"`` on a type mismatch."""
    problem = mismatch(value, annotation)
    if problem:
        raise ValueError(f"{owner}: {what} {name} {problem}")


def annotations_of(func: Callable) -> dict[str, str]:
    """Parameter name -> annotation string of ``func`` (unannotated parameters left out)."""
    out = {}
    for p, v in inspect.signature(func).parameters.items():
        ann = v.annotation
        if ann is inspect.Parameter.empty:
            continue
        out[p] = ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann))
    return out


def check_options(owner: str, options: Mapping, annotations: Mapping[str, str], what: str = "option") -> None:
    """Check every ``options[name]`` against ``annotations[name]`` (see the module docstring)."""
    for name, value in options.items():
        if name in annotations:
            check_value(owner, name, value, annotations[name], what)
