#!/usr/bin/env bash
# Installs the Debian packages the test suite uses, when missing: run by
# `npm test` (its pretest step) before the tests, so the README's test
# command is all a fresh machine needs. Not root, or no apt-get: it names
# what is missing and carries on (those tests then skip, or fail under CI=true).
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
# VRRP interop (test/e2e/vrrp-keepalived.test.ts): keepalived as the peer.
command -v keepalived >/dev/null 2>&1 || want+=(keepalived)
# Appliance image (weir image build / boot, test/e2e/image.test.ts): QEMU with
# OVMF, GRUB's EFI modules and grub-mkimage, the filesystem and partition
# tools, zstd for the initramfs. The kernel and busybox are fetched by the
# build itself with apt-get download.
command -v qemu-system-x86_64 >/dev/null 2>&1 || want+=(qemu-system-x86)
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || want+=(ovmf)
[ -d /usr/lib/grub/x86_64-efi ] || want+=(grub-efi-amd64-bin)
command -v grub-mkimage >/dev/null 2>&1 || want+=(grub-common)
command -v mcopy >/dev/null 2>&1 || want+=(mtools)
command -v mkfs.vfat >/dev/null 2>&1 || want+=(dosfstools)
command -v sfdisk >/dev/null 2>&1 || want+=(fdisk)
command -v mke2fs >/dev/null 2>&1 || want+=(e2fsprogs)
command -v zstd >/dev/null 2>&1 || want+=(zstd)
if [ ${#want[@]} -gt 0 ] && { [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; }; then
  echo "install-test-deps: missing ${want[*]} (Debian packages; run as root to install them): the tests that need them will not run" >&2
  exit 0
fi
if [ ${#want[@]} -gt 0 ]; then
  echo "install-test-deps: installing ${want[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
# apt-get download (the image build) needs package lists even when nothing was missing.
if [ "$(id -u)" = 0 ] && ! apt-cache show --no-all-versions linux-image-cloud-amd64 >/dev/null 2>&1; then
  apt-get update -qq
fi
