#!/usr/bin/env bash
# Create .venv with Python 3.10 (Rasa 3.6 supports 3.8-3.10) and install Dalil in ONE pip
# resolution pinned by constraints.txt. Finds the interpreter itself: python3.10 on PATH,
# pyenv's 3.10, or uv; otherwise says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local candidate
  if command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
    command -v python3.10; return 0
  fi
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in "$(pyenv root)"/versions/3.10*/bin/python3.10; do
      [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
  fi
  for candidate in "$HOME"/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
    [ -x "$candidate" ] && { echo "$candidate"; return 0; }
  done
  if command -v uv >/dev/null 2>&1; then
    candidate=$(uv python find 3.10 2>/dev/null || true)
    if [ -z "$candidate" ]; then uv python install 3.10 >/dev/null 2>&1 && candidate=$(uv python find 3.10 2>/dev/null || true); fi
    [ -n "$candidate" ] && { echo "$candidate"; return 0; }
  fi
  return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
  if ! PY=$(find_python); then
    echo "make setup: Python 3.10 is required (Rasa 3.6 runs on 3.8-3.10); install it with 'pyenv install 3.10', your package manager (python3.10), or 'uv python install 3.10'." >&2
    exit 1
  fi
  echo "Creating .venv with $PY"
  rm -rf .venv
  "$PY" -m venv .venv
fi
started=$(date +%s)
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt --upgrade "pip<26" "wheel<0.46"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
.venv/bin/python -m pip check
echo "Set-up done in $(( $(date +%s) - started )) s."
