"""Argument types shared by the command groups."""

from __future__ import annotations

import argparse
import os

__all__ = ["folder_path"]


def folder_path(text: str) -> str:
    """An ``--out`` argument: a non-empty path, ``~`` expanded (an argparse ``type``)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a folder name")
    return os.path.expanduser(text)
