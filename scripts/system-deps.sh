#!/usr/bin/env bash
# Installs the Debian packages that are missing, of those named on the command line:
#   postgresql  server binaries for the tests' throwaway clusters
#   wrk         HTTP load generator for the benchmarks
set -euo pipefail

missing=()
for need in "$@"; do
  case "$need" in
    postgresql) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql) ;;
    wrk) command -v wrk >/dev/null 2>&1 || missing+=(wrk) ;;
    *) echo "unknown system dependency: $need" >&2; exit 2 ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
