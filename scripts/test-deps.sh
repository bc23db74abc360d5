#!/usr/bin/env bash
# Installs what the test suite needs when it is missing: Debian's etcd
# (the external-etcd conformance runs and outage tests start it) and
# OpenLDAP's clients (ldapsearch and friends, for the LDAP tests).
set -euo pipefail

need=()
command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || need+=(etcd-server)
# OpenLDAP's command-line clients drive the LDAP front end in its tests.
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "installing test dependencies: ${need[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "need root (or sudo) to apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d keeps the package from starting a system-wide etcd service:
# tests start their own on ports chosen at run time.
if [ -d /usr/sbin ] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "installed: ${need[*]}"
