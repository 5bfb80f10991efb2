#!/usr/bin/env bash
# Issue 10's evidence, one command: plain BIM and BIM with EOT-16 (60 extra steps for fragile examples) on the built-in lenet-mnist, the same
# 300 built-in digits at ε 0.1 and 0.2, printed, photographed twice per sheet through `foolprint
# simulate`'s default channel (fixed seeds) and analysed; prints digital success, adversarial cells,
# destroyed on camera, destruction rates and EOT/BIM with counts. Options: scripts/eot-evidence.ts
# (e.g. --limit 48 --photos 1 for a quick look, --eot-flags "--eot-keep most-robust" in place of --eot-refine 60, --bim-from/--eot-from DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
exec node dist/scripts/eot-evidence.js "$@"
