#!/usr/bin/env bash
# Installs every Debian 12 package that Ferry's build, demo and tests need.
# Noninteractive and idempotent; run as root (or through sudo).
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-program-options1.81-dev libboost-url1.81-dev
  libssl-dev libcurl4-openssl-dev libexpat1-dev nlohmann-json3-dev libpq-dev
  libgmime-3.0-dev libxml2-dev libidn-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  clang-format clang-tidy
  # real servers for the demo and the integration tests
  prosody ejabberd postgresql prometheus-alertmanager postfix dovecot-imapd dovecot-lmtpd
  # test drivers
  python3-slixmpp python3-pytest python3-aiosmtpd procps iproute2 curl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# expat gets security backports (the reparse deferral among them): take the candidate apt offers,
# so this machine parses exactly as a fresh one does.
expat_installed=$(dpkg-query -W -f='${Version}' libexpat1-dev 2>/dev/null || true)
expat_candidate=$(apt-cache policy libexpat1-dev 2>/dev/null | awk '/Candidate:/ {print $2}')
if [ -n "$expat_installed" ] && [ -n "$expat_candidate" ] && [ "$expat_installed" != "$expat_candidate" ]; then
  missing+=(libexpat1-dev libexpat1)
fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  # Postfix without a system-wide configuration: the tests and the demo run private instances only.
  echo "postfix postfix/main_mailer_type select No configuration" | "${sudo_cmd[@]}" debconf-set-selections
  echo "install-deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -q
  # Debian's packages start system-wide servers on install; keep them from taking the ports.
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo_cmd[@]}" chmod +x /usr/sbin/policy-rc.d
  trap '"${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
  "${sudo_cmd[@]}" apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
fi

# Servers started by package installs on an earlier run (without policy-rc.d) must not hold ports.
for svc in prosody ejabberd postgresql prometheus-alertmanager postfix dovecot; do
  if command -v service >/dev/null 2>&1; then
    "${sudo_cmd[@]}" service "$svc" stop >/dev/null 2>&1 || true
  fi
done
echo "install-deps: all packages present"
