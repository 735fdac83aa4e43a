#!/usr/bin/env bash
# Installs uturn's build dependencies from Debian 12's archive, and with
# --test also the tools the test suite needs (clang, coturn, Go and pion's
# TURN sources, Chromium, Node). Installs only what is missing: fast to rerun.
#   scripts/install-deps.sh [--test]      (as root, or with sudo available)
set -euo pipefail

packages=(build-essential cmake pkg-config liburing-dev libssl-dev prometheus-cpp-dev libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libicu-dev libidn-dev)
for arg in "$@"; do
  case $arg in
    # libclang-rt-14-dev (libFuzzer, sanitizers) is only a Recommends of clang.
    # Interop: coturn's tools, pion's TURN client built from Debian's Go
    # sources, Chromium for the browser test (ss from iproute2 picks ports),
    # libnice (built against by the ICE-lite interop test) and curl.
    --test)
      packages+=(clang libclang-rt-14-dev coturn golang-go golang-github-pion-turn.v2-dev chromium iproute2
        libnice-dev curl iptables golang-github-pion-ice.v2-dev)
      # Node drives Chromium (playwright-core, pinned by the test's lockfile and
      # installed by its CTest fixture). Only when no node is on PATH: a Node
      # from elsewhere already brings its own npm (Debian 12 has Node 18, which
      # is why playwright-core is pinned to 1.61, the last for Node >= 18).
      if ! command -v node >/dev/null; then packages+=(nodejs npm); fi
      ;;
    -h | --help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null; then sudo=(sudo); else
    echo "install-deps: missing ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
