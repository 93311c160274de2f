#!/usr/bin/env bash
# `make test` in phases: runs the given make targets one after the other and ends with how
# long each took, also when one fails (which stops the run). A fresh `make test` once took
# 46 minutes, 22 of them building the Kubernetes binaries on a busy machine: the summary, the
# last lines of the log (where CI shows it), says where the time went.
# Usage: MAKE=make bash scripts/phases.sh TARGET...
set -uo pipefail

make=${MAKE:-make}
summary=()
status=0
for target in "$@"; do
  start=$SECONDS
  "$make" --no-print-directory "$target"
  status=$?
  elapsed=$((SECONDS - start))
  line=$(printf '  %-12s %3dm %02ds' "$target" $((elapsed / 60)) $((elapsed % 60)))
  if [ "$status" -ne 0 ]; then
    summary+=("$line  FAILED (exit $status)")
    break
  fi
  summary+=("$line")
done

echo
echo "time per phase (total $((SECONDS / 60))m $((SECONDS % 60))s):"
printf '%s\n' "${summary[@]}"
exit "$status"
