#!/usr/bin/env bash
# Installs the Debian packages the network benchmarks (B3–B6, B9, scaling) use,
# when missing: wrk (load), nginx-light (real servers), haproxy (baseline),
# nftables (DNAT baseline, ingress drops), gcc (bench/ref), ethtool.
# `npm run bench` runs this when one of the tools is missing. Services the
# packages ship are not started by the bench (it runs its own copies in
# namespaces); a service that the package starts is stopped again.
set -euo pipefail
want=()
command -v wrk >/dev/null 2>&1 || want+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || want+=(nginx-light)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || want+=(haproxy)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || want+=(nftables)
command -v gcc >/dev/null 2>&1 || want+=(gcc libc6-dev)
command -v ethtool >/dev/null 2>&1 || [ -x /usr/sbin/ethtool ] || want+=(ethtool)
if [ ${#want[@]} -gt 0 ]; then
  echo "bench/setup.sh: installing ${want[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d exit 101: no service is started by the packages' scripts.
  created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created=1; fi
  apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
  [ "$created" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
exit 0
