#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs what the tests need (a virtualenv with the
# package and its test extras, Debian's chromium for the browser tests), then runs pytest on SQLite
# and, when a PostgreSQL server is reachable, on a fresh PostgreSQL database as well.
# Everything: `-m ''` undoes the default filter in pyproject.toml (no browser, federation or slow tests);
# arguments after it still narrow the run (bash tests/run.sh -m browser, bash tests/run.sh tests/web).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi
echo "== installing linkblog and its test dependencies"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

if [ ! -d tests/peers/fedify/node_modules ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "== installing the Fedify test peer (npm ci in tests/peers/fedify)"
    npm ci --prefix tests/peers/fedify --no-audit --no-fund
  else
    echo "!! no npm: the Fedify peer tests will be skipped (and fail when CI=true); install Node.js 20+"
  fi
fi

if [ ! -d tests/browser/node_modules ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "== installing axe-core for the browser tests' accessibility checks (npm ci in tests/browser)"
    npm ci --prefix tests/browser --no-audit --no-fund
  else
    echo "!! no npm: tests/browser/test_pages_a11y.py will fail (it needs axe-core); install Node.js 20+"
  fi
fi

# Real browsers: chromium drives the UI tests, firefox-esr re-imports our Netscape export.
browsers=""
command -v chromium >/dev/null 2>&1 || browsers="chromium"
command -v firefox-esr >/dev/null 2>&1 || browsers="$browsers firefox-esr"
if [ -n "$browsers" ]; then
  echo "== installing Debian's$browsers for the browser tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $browsers >/dev/null \
    || echo "!! could not install$browsers; browser tests will fail (install them: apt-get install$browsers)"
fi

if [ -z "${LINKBLOG_TEST_DATABASE_URL:-}" ]; then
  if .venv/bin/python -c "import psycopg; psycopg.connect('postgresql://postgres@127.0.0.1:5432/test', connect_timeout=2).close()" 2>/dev/null; then
    export LINKBLOG_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test
  fi
fi
echo "== PostgreSQL: ${LINKBLOG_TEST_DATABASE_URL:-not available, SQLite only} (each run makes its own new database)"

exec .venv/bin/python -m pytest -n 2 -m '' "$@"
