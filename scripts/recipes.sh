#!/bin/sh
# Regenerate the tables of docs/RECIPES.md from the current tree:
#   scripts/recipes.sh            (about 3-5 minutes on one core)
# Builds bench/recipes against the library and runs it on one BLAS thread,
# passing the commit (with -dirty for uncommitted changes) so that the
# output says what it measured.  Paste its output into docs/RECIPES.md.
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
make --no-print-directory B="$B" "$B/bench/recipes" >/dev/null
commit=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
OPENBLAS_NUM_THREADS=1 exec "$B/bench/recipes" "$commit"
