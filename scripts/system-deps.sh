#!/usr/bin/env bash
# Installs the Debian packages that are missing, of those named on the command line:
#   postgresql  server binaries for the tests' throwaway clusters
#   wrk         HTTP load generator for the benchmarks
#   prometheus  a real Prometheus and promtool for the metric, rule and dashboard tests
#               (installed without starting its service: the tests run it themselves)
#   npm         Node.js and npm, for `make js-tools` (the dashboards' TypeScript type check,
#               axe-core for the console's accessibility checks)
#   chromium    Debian's Chromium, which the console's browser tests drive through Playwright
#               (its executable_path; Playwright's own browser download is never used)
set -euo pipefail

missing=()
for need in "$@"; do
  case "$need" in
    postgresql) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql) ;;
    wrk) command -v wrk >/dev/null 2>&1 || missing+=(wrk) ;;
    prometheus) command -v promtool >/dev/null 2>&1 || missing+=(prometheus) ;;
    npm) command -v npm >/dev/null 2>&1 || missing+=(npm) ;;
    chromium) [ -x /usr/bin/chromium ] || missing+=(chromium) ;;
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
# A package's service must not start on install (Prometheus would listen on 0.0.0.0:9090):
# policy-rc.d answering 101 tells invoke-rc.d so. Keep one that exists; remove ours after.
own_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  own_policy=1
fi
trap '[ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# ... nor after a reboot, where systemd would start the unit the package enabled.
if [ -d /run/systemd/system ] && [[ " ${missing[*]} " == *" prometheus "* ]]; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
