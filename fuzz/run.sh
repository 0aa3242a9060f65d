#!/usr/bin/env bash
# A bounded run of the parser fuzzer: bash fuzz/run.sh BUILD_DIR [SECONDS]
# Seeds from fuzz/corpus (kept inputs), fuzz/crashes (inputs that once crashed it) and the golden
# graphs test/ir/*.kir; new interesting inputs go to a scratch corpus in BUILD_DIR, a crash to
# BUILD_DIR/fuzz-artifacts/ (and the run fails: copy the input into fuzz/crashes/ once fixed, so
# the gtest KilnIrCorpus.FuzzCorpusAndCrashesParseOrFailCleanly replays it from then on).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS]}
seconds=${2:-60}
work="$build/fuzz-corpus"
artifacts="$build/fuzz-artifacts"
mkdir -p "$work" "$artifacts"
# A fixed seed: CI explores the same inputs every time (a slower machine a prefix of them), so
# a run that passed once does not fail later by chance. Explore further with another -seed.
"$build/fuzz/kiln_ir_parse_fuzzer" -seed="${KILN_FUZZ_SEED:-1}" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
  -rss_limit_mb=2048 -dict=fuzz/kiln_ir.dict -artifact_prefix="$artifacts/" -print_final_stats=1 \
  "$work" fuzz/corpus fuzz/crashes test/ir
