#!/usr/bin/env bash
# Print the path of a Python >= 3.12 interpreter found on this machine, or fail
# with a message that says what was tried.  Order: $PYTHON, python3.13,
# python3.12, pyenv's installs, then python3.
set -u
want_major=3; want_minor=12
candidates=()
if [ -n "${PYTHON:-}" ]; then
  candidates=("$PYTHON")   # an explicit choice is the only one tried
else
candidates+=(python3.12 python3.13)
for root in "${PYENV_ROOT:-$HOME/.pyenv}" /root/.pyenv /opt/pyenv; do
  for p in $(ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -V); do
    candidates+=("$p")
  done
done
candidates+=(python3 python)
fi
tried=()
for c in "${candidates[@]}"; do
  exe=$(command -v "$c" 2>/dev/null) || { tried+=("$c (not found)"); continue; }
  if ver=$("$exe" -c 'import sys; print("%d.%d" % sys.version_info[:2]); sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null); then
    echo "$exe"; exit 0
  fi
  tried+=("$c (${ver:-does not run})")
done
{
  echo "error: spikevid needs Python >= ${want_major}.${want_minor} (brian2 2.10.1 requires it)."
  echo "Tried: ${tried[*]}"
  echo "Install one (e.g. 'pyenv install 3.12') or run: make PYTHON=/path/to/python3.12 ..."
} >&2
exit 1
