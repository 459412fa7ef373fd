#!/usr/bin/env bash
# Fuzzes Limner's importers with AFL++ (cargo-afl, stable toolchain).
#
#   fuzz/run.sh [SECONDS] [TARGET...]     default: 600 s for each of the 12 targets
#
# Installs cargo-afl and builds AFL++ when missing, builds the harness, runs afl-fuzz on
# each target from fuzz/seeds/TARGET into fuzz/out/TARGET, then minimizes every crash
# and hang into fuzz/regressions/TARGET/ (replayed by tests/fuzz_regressions.rs).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(coco-panoptic coco-instance semantic-png voc yolo-seg cvat labelme
           project document ontology prompts tags-csv)
fi

command -v cargo-afl >/dev/null || cargo install cargo-afl --locked
cargo afl config --build 2>/dev/null || true   # builds AFL++ once; a no-op after
# FUZZ_NO_BUILD=1 fuzzes the harness already built (while the tree is being edited).
[ "${FUZZ_NO_BUILD:-}" = 1 ] || cargo afl build --release --locked

export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_AFFINITY=1
for t in "${targets[@]}"; do
  echo "== $t: ${secs} s"
  rm -rf "out/$t"; mkdir -p out
  LIMNER_FUZZ_TARGET="$t" cargo afl fuzz -i "seeds/$t" -o "out/$t" -t 5000 -V "$secs" \
    target/release/limner-fuzz > "out/$t.log" 2>&1 || true
  grep -E "^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|run_time|bitmap_cvg)" \
    "out/$t/default/fuzzer_stats" || echo "   no stats: see fuzz/out/$t.log"
  for kind in crashes hangs; do
    for f in "out/$t/default/$kind"/id:*; do
      [ -e "$f" ] || continue
      mkdir -p "regressions/$t"
      name="$kind-$(basename "$f" | cut -d, -f1 | tr -d ':')"
      LIMNER_FUZZ_TARGET="$t" cargo afl tmin -t 5000 -i "$f" -o "regressions/$t/$name" \
        -- target/release/limner-fuzz >/dev/null 2>&1 || cp "$f" "regressions/$t/$name"
      echo "   $kind: regressions/$t/$name"
    done
  done
done
