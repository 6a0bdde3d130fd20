#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] [RESULT_FILE]: builds every libFuzzer target
# tests/fuzz/fuzz-NAME.c with clang (-fsanitize=fuzzer,address,undefined)
# against all of filters/*.c, and runs each for SECONDS (default 60). Seeds:
# tests/fuzz/seeds-NAME/ when it exists, else the dev corpus
# (../shared/corpus/dev/*.eml) and tests/data/parser/*.eml; a dictionary
# tests/fuzz/NAME.dict is used when present. The growing corpus is kept in
# tests/fuzz/corpus-NAME/ (gitignored). Writes "PASS NAME" or "FAIL NAME" per
# target to RESULT_FILE (default stdout); a build failure is a FAIL line.
# Binaries and logs go to build-fuzz/. Exit status 0 unless no target ran.
# Long run: bash tests/fuzz/run.sh 3600 /tmp/fuzz.txt
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
out=${2:-/dev/stdout}
work=build-fuzz
mkdir -p "$work"
: > "$out"
packages="glib-2.0 gmime-3.0 json-glib-1.0 libpcre2-8 libxml-2.0"

fuzz_build() { # NAME SOURCE
  # shellcheck disable=SC2046
  clang -std=gnu17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -D_GNU_SOURCE -DKEEL_VERSION=\"fuzz\" -I. "$2" filters/*.c \
    $(pkg-config --cflags --libs $packages) -o "$work/$1" > "$work/$1.build.log" 2>&1
}

fuzz_seed() { # NAME CORPUS_DIR
  mkdir -p "$2"
  if [ -d "tests/fuzz/seeds-$1" ]; then
    cp -n "tests/fuzz/seeds-$1"/* "$2"/ 2>/dev/null
  else
    cp -n ../shared/corpus/dev/*.eml tests/data/parser/*.eml "$2"/ 2>/dev/null
  fi
  return 0
}

fuzz_run() { # NAME CORPUS_DIR
  local dict=()
  [ -f "tests/fuzz/$1.dict" ] && dict=("-dict=tests/fuzz/$1.dict")
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$work/$1" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$work/$1-" "${dict[@]}" "$2" \
      > "$work/$1.log" 2>&1
}

ran=0
for src in tests/fuzz/fuzz-*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  ran=$((ran + 1))
  if ! fuzz_build "$name" "$src"; then
    echo "fuzz $name: build failed, see $work/$name.build.log" >&2
    tail -n 20 "$work/$name.build.log" >&2
    echo "FAIL $name" >> "$out"
    continue
  fi
  corpus="tests/fuzz/corpus-$name"
  fuzz_seed "$name" "$corpus"
  if fuzz_run "$name" "$corpus"; then
    echo "fuzz $name: $(grep -E '^(Done|stat::number_of_executed_units)' "$work/$name.log" | tr '\n' ' ')" >&2
    echo "PASS $name" >> "$out"
  else
    echo "fuzz $name: FAILED, see $work/$name.log and $work/$name-crash-*" >&2
    tail -n 40 "$work/$name.log" >&2
    echo "FAIL $name" >> "$out"
  fi
done
[ "$ran" -gt 0 ]
