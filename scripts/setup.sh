#!/usr/bin/env bash
# Install what this project needs on a Debian or Ubuntu machine: the Debian
# packages (debootstrap and gpgv for the pinned build root, qemu-user to run
# linux-arm64 binaries, binutils/gcc for host builds, the aarch64 binutils to
# disassemble linux-arm64 binaries without a build root, gpg and zstd for the
# tests, llvm's llvm-objdump to disassemble the darwin targets' Mach-O binaries
# for the fused multiply-add check) and the npm packages. Safe to re-run.
#
#   bash scripts/setup.sh                  everything (developers, .ci/run, build legs)
#   bash scripts/setup.sh --arm64-runtime  only what checking linux-arm64 binaries
#                                          needs on an x64 machine (CI's verify job):
#                                          qemu-user, the arm64 C runtime
#                                          (/usr/aarch64-linux-gnu) and its objdump
#                                          (the fused multiply-add check), and llvm
#                                          (llvm-objdump, the same check of the darwin binaries)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-all}
need=()
case "$mode" in
  --arm64-runtime)
    command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
    [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross)
    command -v aarch64-linux-gnu-objdump >/dev/null 2>&1 || need+=(binutils-aarch64-linux-gnu)
    command -v llvm-objdump >/dev/null 2>&1 || need+=(llvm)
    ;;
  all)
    command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
    command -v gpgv >/dev/null 2>&1 || need+=(gpgv)
    command -v gpg >/dev/null 2>&1 || need+=(gpg)
    command -v zstd >/dev/null 2>&1 || need+=(zstd)
    command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
    command -v aarch64-linux-gnu-objdump >/dev/null 2>&1 || need+=(binutils-aarch64-linux-gnu)
    command -v llvm-objdump >/dev/null 2>&1 || need+=(llvm)
    command -v gcc >/dev/null 2>&1 || need+=(gcc)
    command -v make >/dev/null 2>&1 || need+=(make)
    command -v chroot >/dev/null 2>&1 || need+=(coreutils)
    command -v unshare >/dev/null 2>&1 || need+=(util-linux)
    ;;
  *) echo "usage: bash scripts/setup.sh [--arm64-runtime]" >&2; exit 2 ;;
esac
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "==> installing Debian packages: ${need[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" ca-certificates >/dev/null
fi

if [ "$mode" = all ] && { [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  echo "==> installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
# the staging registry (Verdaccio 9, npm staged publishing) and the pinned
# Node 24 it needs, from the npm registry, with their own lockfile: kept apart
# so that Node 24's `node` never shadows the project's Node
if [ "$mode" = all ] && { [ ! -d tools/registry9/node_modules ] || [ tools/registry9/package-lock.json -nt tools/registry9/node_modules/.package-lock.json ]; }; then
  echo "==> installing the staging registry (Verdaccio 9 on Node 24)"
  npm ci --prefix tools/registry9 --no-audit --no-fund --ignore-scripts --loglevel=error
fi
# Yarn 4 and pnpm 10 (exact versions, their own lockfile): the package managers
# whose installs of the published set check-delivery.ts tests
if [ "$mode" = all ] && { [ ! -d tools/pm/node_modules ] || [ tools/pm/package-lock.json -nt tools/pm/node_modules/.package-lock.json ]; }; then
  echo "==> installing Yarn 4 and pnpm 10 (tools/pm)"
  npm ci --prefix tools/pm --no-audit --no-fund --ignore-scripts --loglevel=error
fi
echo "==> setup done"
