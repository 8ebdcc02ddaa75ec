#!/usr/bin/env bash
# Installs the Debian packages the test suite uses, when missing.
set -euo pipefail
want=()
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v promtool >/dev/null 2>&1 || want+=(prometheus)
command -v openssl >/dev/null 2>&1 || want+=(openssl)
command -v ip >/dev/null 2>&1 || want+=(iproute2)
# Namespace tests (test/e2e): nft for the decapsulator's and the appliance's
# rules, ethtool to turn veth offloads off, ping for the owned-address checks.
command -v nft >/dev/null 2>&1 || want+=(nftables)
command -v ethtool >/dev/null 2>&1 || want+=(ethtool)
command -v ping >/dev/null 2>&1 || want+=(iputils-ping)
if [ ${#want[@]} -gt 0 ]; then
  echo "installing: ${want[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
