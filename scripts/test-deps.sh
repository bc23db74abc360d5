#!/usr/bin/env bash
# Installs what the test suite needs when it is missing: Debian's etcd
# (the external-etcd conformance runs and outage tests start it), OpenLDAP's
# clients (ldapsearch and friends, for the LDAP tests), Chromium and xmlsec1
# (the SAML and portal end-to-end tests drive the browser and check XML
# signatures with an outside implementation), Node.js, the npm packages
# of the test SAML service provider in internal/samltest/sp, and Samba's AD
# domain controller (connectors/ad provisions a throwaway domain with
# scripts/samba-ad.sh).
set -euo pipefail

need=()
command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || need+=(etcd-server)
# OpenLDAP's command-line clients drive the LDAP front end in its tests.
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
# internal/browsertest runs Debian's build at exactly this path.
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v xmlsec1 >/dev/null 2>&1 || need+=(xmlsec1)
# python-ldap3 (Debian's build, for Debian's /usr/bin/python3) reads the
# LDAP front end's subschema as Python applications do.
/usr/bin/python3 -c 'import ldap3' >/dev/null 2>&1 || need+=(python3-ldap3)
# The test SP is node-saml; an image's own Node.js (with its npm) is kept.
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
# The AD connector's tests run a real Samba DC. samba-ad-provision holds the
# schema and setup files `samba-tool domain provision` reads; it is only a
# Recommends of the DC packages, so --no-install-recommends would skip it.
if ! command -v samba-tool >/dev/null 2>&1 || [ ! -x /usr/sbin/samba ] || [ ! -d /usr/share/samba/setup ]; then
  need+=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules)
fi

if [ ${#need[@]} -gt 0 ]; then
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
fi

# Debian's samba packages come with system-wide smbd/nmbd/winbind/samba-ad-dc
# services. policy-rc.d kept them from starting at install, but a host
# without it (or one that rebooted) may run them: a distro DC would hold
# ports 389/636 and the tests' own DC, which is started per test run, must
# not meet a second one. Stop and disable them when they are running.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  for svc in samba-ad-dc smbd nmbd winbind; do
    if systemctl is-active --quiet "$svc" 2>/dev/null; then
      echo "stopping the distribution's $svc service (tests run their own Samba)"
      if [ "$(id -u)" -eq 0 ]; then
        systemctl disable --now "$svc" >/dev/null 2>&1 || true
      else
        sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
      fi
    fi
  done
fi

# The test SP's packages, exactly as package-lock.json pins them. npm
# records what it installed in node_modules/.package-lock.json; when that is
# missing or older than the lock file, install again. (The Go side runs the
# same `npm ci` itself when it finds node_modules out of date.)
sp_dir="$(cd "$(dirname "$0")/.." && pwd)/internal/samltest/sp"
if [ ! -f "$sp_dir/node_modules/.package-lock.json" ] ||
  [ "$sp_dir/package-lock.json" -nt "$sp_dir/node_modules/.package-lock.json" ]; then
  echo "installing the test SP's npm packages in $sp_dir"
  (cd "$sp_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
