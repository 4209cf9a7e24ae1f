#!/usr/bin/env bash
# Idempotent set-up for development and CI; fast when everything is already in place.
#   1. Debian packages: chromium (browser tests), redis-server (RedisStore tests), wrk
#      (benchmarks), plus node/npm and python3-venv if they are missing.
#   2. .venv with `pip install -e '.[dev]'` (redone when pyproject.toml changes).
#   3. `npm ci` for the test identity provider in tests/idp (redone when its lockfile changes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[bootstrap] %s\n' "$*"; }
hash_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# -- 1. system packages --------------------------------------------------------------------
missing=()
for pair in chromium:chromium redis-server:redis-server wrk:wrk node:nodejs npm:npm; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    missing+=(python3-venv)
fi

if ((${#missing[@]})); then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    say "installing Debian packages: ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "system packages: ok"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
    say "Node.js $(node --version) is too old: the test IdP (oidc-provider 9) needs Node 20+" >&2
    exit 1
fi

# -- 2. Python virtualenv ------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    python3 -m venv .venv
fi
stamp=.venv/.bootstrap-pyproject.sha256
want=$(hash_of pyproject.toml)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] \
    || ! .venv/bin/python -c 'import importlib.metadata as m; m.version("thunderid-mw")' 2>/dev/null; then
    say "pip install -e '.[dev]'"
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
    echo "$want" >"$stamp"
else
    say "python packages: ok"
fi

# -- 3. test identity provider (Node) ------------------------------------------------------
stamp=tests/idp/node_modules/.bootstrap-lock.sha256
want=$(hash_of tests/idp/package.json tests/idp/package-lock.json)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "npm ci (tests/idp)"
    (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" >"$stamp"
else
    say "test IdP node_modules: ok"
fi

say "done"
