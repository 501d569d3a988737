#!/usr/bin/env bash
# The whole test suite (make test): the per-language suite runs beside the others, each its own
# pytest. Both mostly wait on sandboxes, so side by side they keep the suite under 20 minutes
# on two cores. Arguments go to both.
set -uo pipefail
cd "$(dirname "$0")/.."

readonly LANGUAGES_SUITE=tests/integration/test_language_programs.py
log=$(mktemp /tmp/runakode-languages-suite.XXXXXX)

.venv/bin/pytest "$@" "$LANGUAGES_SUITE" >"$log" 2>&1 &
languages=$!
.venv/bin/pytest "$@" --ignore="$LANGUAGES_SUITE"
others=$?
wait "$languages"
languages_status=$?

echo "---- $LANGUAGES_SUITE ----"
cat "$log"
rm -f "$log"
((others == 0 && languages_status == 0))
