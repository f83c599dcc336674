#!/usr/bin/env bash
# Runs every libFuzzer target in BIN_DIR (files named fuzz_*) for SECONDS each, seeded from
# fuzz/corpus/<name without the fuzz_ prefix>/.
#
# Usage: scripts/run-fuzzers.sh BIN_DIR SECONDS
#
# The seed corpus is copied into a temporary folder first, so the repository's corpus is never
# modified. Crash/leak/timeout/oom artifacts go to build/fuzz/artifacts/, logs to build/fuzz/logs/.
# Exits non-zero if there is no fuzz target, or if any target finds a problem.
set -euo pipefail

BIN_DIR="${1:?usage: $0 BIN_DIR SECONDS}"
SECONDS_PER_TARGET="${2:?usage: $0 BIN_DIR SECONDS}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CORPUS_ROOT="$ROOT/fuzz/corpus"
OUT_DIR="$ROOT/build/fuzz"
RSS_LIMIT_MB="${FUZZ_RSS_LIMIT_MB:-2048}"
TIMEOUT_S="${FUZZ_TIMEOUT:-10}"

# The corpus replayers (fuzz_*_replay) and the seed writer live in the same folder in the asan
# preset: they are not libFuzzer targets.
mapfile -t targets < <(find "$BIN_DIR" -maxdepth 1 -type f -name 'fuzz_*' ! -name '*_replay' \
  ! -name 'fuzz_make_seeds' -perm -u+x 2>/dev/null | sort)
if ((${#targets[@]} == 0)); then
  echo "run-fuzzers: no fuzz targets (fuzz_*) found in $BIN_DIR; did the fuzz preset build any?" >&2
  exit 1
fi

mkdir -p "$OUT_DIR/artifacts" "$OUT_DIR/logs"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Make sanitizer findings fatal and readable (the fuzz preset is ASan+UBSan); keep user overrides.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
echo "run-fuzzers: ${#targets[@]} target(s), ${SECONDS_PER_TARGET}s each"
for bin in "${targets[@]}"; do
  exe="$(basename "$bin")"
  name="${exe#fuzz_}"
  corpus="$work/$name"
  mkdir -p "$corpus"
  if [[ -d "$CORPUS_ROOT/$name" ]]; then
    cp -R "$CORPUS_ROOT/$name/." "$corpus/"
  else
    echo "run-fuzzers: warning: no seed corpus at fuzz/corpus/$name/, starting empty" >&2
  fi
  seeds="$(find "$corpus" -type f | wc -l)"
  extra=()
  [[ -f "$ROOT/fuzz/$name.dict" ]] && extra+=("-dict=$ROOT/fuzz/$name.dict")
  log="$OUT_DIR/logs/$name.log"
  printf '==> %-28s %4d seed(s) ... ' "$exe" "$seeds"
  if "$bin" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_LIMIT_MB" \
      -timeout="$TIMEOUT_S" -print_final_stats=1 \
      -artifact_prefix="$OUT_DIR/artifacts/$name-" "${extra[@]}" "$corpus" >"$log" 2>&1; then
    runs="$(grep -Eo '^Done [0-9]+ runs in [0-9]+ second\(s\)' "$log" | tail -1 || true)"
    echo "ok (${runs:-done})"
  else
    echo "FAILED (log: build/fuzz/logs/$name.log)"
    echo "----- last 60 lines of $name.log -----"
    tail -n 60 "$log"
    echo "-----"
    failed+=("$exe")
  fi
done

if ((${#failed[@]} > 0)); then
  echo "run-fuzzers: ${#failed[@]} of ${#targets[@]} target(s) failed: ${failed[*]}" >&2
  echo "run-fuzzers: reproduce with: build/fuzz/bin/<target> build/fuzz/artifacts/<file>" >&2
  exit 1
fi
echo "run-fuzzers: all ${#targets[@]} target(s) ran ${SECONDS_PER_TARGET}s with no finding"
