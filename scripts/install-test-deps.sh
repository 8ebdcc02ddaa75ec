#!/usr/bin/env bash
# Installs the Debian packages the test suite uses, when missing.
set -euo pipefail
want=()
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v promtool >/dev/null 2>&1 || want+=(prometheus)
command -v openssl >/dev/null 2>&1 || want+=(openssl)
command -v ip >/dev/null 2>&1 || want+=(iproute2)
if [ ${#want[@]} -gt 0 ]; then
  echo "installing: ${want[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
