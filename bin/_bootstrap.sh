# Sourced by bin/mh and bin/test: create .venv on first use and keep it in step with pyproject.toml.
# Usage: mh_bootstrap "EXTRAS" ; EXTRAS is a comma list such as "api" or "dev,api,train".
set -euo pipefail
MH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MH_VENV="${MH_VENV:-$MH_ROOT/.venv}"

mh_python() {
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "error: MetaHuman OS needs Python 3.11 or newer (python3 --version)" >&2
  return 1
}

mh_bootstrap() {
  local extras="$1"
  local stamp="$MH_VENV/.mh-stamp-${extras//,/-}"
  local want
  want="$(cat "$MH_ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  if [[ -x "$MH_VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  local py
  py="$(mh_python)"
  if [[ ! -x "$MH_VENV/bin/python" ]]; then
    echo "mh: creating $MH_VENV (first run)..." >&2
    "$py" -m venv "$MH_VENV"
    "$MH_VENV/bin/python" -m pip install -q --upgrade pip >&2
  fi
  echo "mh: installing metahuman-os[$extras] into $MH_VENV ..." >&2
  if [[ ",$extras," == *",train,"* ]]; then
    # torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
    "$MH_VENV/bin/python" -m pip install -q "torch==2.13.0" >&2
  fi
  if [[ ",$extras," == *",llm,"* ]]; then
    # portable llama.cpp build: a native build can die with "Illegal instruction" (AMX CPUs)
    export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
    echo "mh: building llama-cpp-python (first time only, several minutes)..." >&2
  fi
  "$MH_VENV/bin/python" -m pip install -q -e "$MH_ROOT[$extras]" >&2
  echo "$want" > "$stamp"
}
