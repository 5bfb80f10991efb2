#!/usr/bin/env bash
# Issue 10's evidence, one command: plain BIM and BIM with EOT-16 on the built-in lenet-mnist (48 built-in
# digits, ε 0.1 and 0.2), laid out as `sheet --pairs`, photographed through `foolprint simulate`'s default
# channel with fixed seeds (sheet k: seed k), analysed together so `analyze` prints both methods side by
# side (method column "bim" and "bim+eot16"). The user's own experiment is the same flow with a printer
# and a camera in place of `simulate`.
#   scripts/eot-evidence.sh [OUT_DIR] [SAMPLES] [PROFILE.json]   (npm run build first; default
#   /tmp/foolprint-eot-evidence, 16 samples, the default channel profile)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/foolprint-eot-evidence}
samples=${2:-16}
profile=${3:-}
cli() { node dist/main/cli/index.js "$@"; }
rm -rf "$out"
mkdir -p "$out/photos"
first=0
for run in bim "bim+eot$samples"; do
  flags=()
  if [ "$run" != bim ]; then flags=(--eot "$samples"); fi
  if [ "$run" != bim ] && [ -n "$profile" ]; then flags+=(--channel "$profile"); fi
  echo "== $run: attack"
  cli attack --model lenet-mnist --data samples --limit 48 --method bim --eps 0.1,0.2 --seed 0 "${flags[@]}" --out "$out/$run-attack" | tee "$out/$run-digital.txt"
  cli sheet --from "$out/$run-attack" --pairs --first-sheet "$first" --experiment "eot evidence $run" --out "$out/$run-sheets" --json > "$out/$run-sheets.json"
  for png in "$out/$run-sheets"/*.png; do
    seed=$first
    cli simulate --sheet "$png" --seed "$seed" --out "$out/photos/$(basename "$png" .png)-seed$seed.png" > /dev/null
    first=$((first + 1))
  done
done
echo "== analyze (both runs)"
cli analyze "$out/photos" --sheets "$out/bim-sheets" "$out/bim+eot$samples-sheets" --out "$out/analysis" | tee "$out/analysis.txt"
