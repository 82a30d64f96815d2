#!/usr/bin/env bash
# What `make bench` needs beyond the test services: wrk (Debian's package), the load generator.
set -euo pipefail
bash "$(dirname "$0")/install-test-services.sh"
command -v wrk >/dev/null && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "missing: wrk; install it (apt-get install wrk) or run as root" >&2
    exit 1
fi
echo "installing: wrk"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends wrk >/dev/null
