# Sourced by bin/mh and bin/test: create .venv on first use and keep it in step with pyproject.toml.
# Usage: mh_bootstrap "EXTRAS" ; EXTRAS is a comma list such as "api" or "dev,api,train".
# pip's own output goes to $MH_VENV/.mh-install.log; the terminal gets a few lines and, while pip
# works, one progress line (what pip is doing now). On failure the log's tail is shown.
set -euo pipefail
MH_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
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

# mh_run_logged WHAT CMD...: run CMD with its output appended to the install log; on a terminal,
# show a spinner, the seconds so far and pip's latest line.
mh_run_logged() {
  local what="$1"; shift
  local log="$MH_VENV/.mh-install.log"
  echo "### $what: $*" >>"$log"
  "$@" >>"$log" 2>&1 &
  local pid=$! start=$SECONDS i=0 spin='|/-\' line cols
  if [[ -t 2 ]]; then
    cols=$(( $(tput cols 2>/dev/null || echo 80) - 20 ))
    (( cols < 20 )) && cols=20
    while kill -0 "$pid" 2>/dev/null; do
      line="$(tail -n 20 "$log" 2>/dev/null | tr -d '\r' | grep -v '^WARNING: Location' \
              | tail -n 1 | sed 's/^### //' | cut -c1-"$cols")" || true
      printf '\r\033[K  %s %3ds  %s' "${spin:i++%4:1}" $((SECONDS - start)) "$line" >&2
      sleep 0.3
    done
    printf '\r\033[K' >&2
  fi
  if ! wait "$pid"; then
    echo "mh: $what failed; the end of $log:" >&2
    tail -n 25 "$log" | sed 's/^/  /' >&2
    return 1
  fi
}

mh_bootstrap() {
  local extras="$1"
  local stamp="$MH_VENV/.mh-stamp-${extras//,/-}"
  local want
  want="$(sha256sum <"$MH_ROOT/pyproject.toml" | cut -c1-16)"
  if [[ -x "$MH_VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  local py start=$SECONDS
  py="$(mh_python)"
  local pip=("$MH_VENV/bin/python" -m pip --disable-pip-version-check)
  if [[ ! -x "$MH_VENV/bin/python" ]]; then
    echo "mh: first run: creating a Python environment in $MH_VENV" >&2
    "$py" -m venv "$MH_VENV"
    : >"$MH_VENV/.mh-install.log"
    mh_run_logged "updating pip" "${pip[@]}" install --progress-bar off --upgrade pip
  else
    : >"$MH_VENV/.mh-install.log"
  fi
  echo "mh: installing MetaHuman OS with the extras $extras (a few minutes the first time;" \
       "log: $MH_VENV/.mh-install.log)" >&2
  if [[ ",$extras," == *",train,"* ]]; then
    # torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
    mh_run_logged "installing torch" "${pip[@]}" install --progress-bar off "torch==2.13.0"
  fi
  if [[ ",$extras," == *",llm,"* ]]; then
    # portable llama.cpp build: a native build can die with "Illegal instruction" (AMX CPUs)
    export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
    echo "mh: building llama-cpp-python (first time only, several minutes)" >&2
  fi
  mh_run_logged "installing metahuman-os[$extras]" "${pip[@]}" install --progress-bar off -e "$MH_ROOT[$extras]"
  echo "$want" > "$stamp"
  echo "mh: ready ($((SECONDS - start)) s)" >&2
}
