#!/usr/bin/env bash
# Runs a throwaway Samba Active Directory domain controller in a folder of
# its own, for the AD connector's tests (connectors/ad) and for trying the
# connector by hand. Nothing outside the folder is touched: the smb.conf,
# the database, the TLS files, the pid file and the log all live in it, and
# the DC listens on one loopback address only.
#
#   scripts/samba-ad.sh start  DIR [--addr 127.A.B.C] [--max-runtime SECONDS] [--json]
#   scripts/samba-ad.sh status DIR [--json]
#   scripts/samba-ad.sh stop   DIR
#
# start provisions a domain into DIR the first time (about 5 s) and starts
# the DC (about 1 s); with DIR already provisioned it only starts it, and
# with the DC already running it only prints the connection details. Those
# are printed as shell assignments (eval-able) or, with --json, as one JSON
# object:
#
#   LDAPS_URL LDAP_URL ADDR LDAPS_PORT LDAP_PORT BASE_DN REALM DOMAIN
#   ADMIN_DN ADMIN_PASSWORD CA_FILE DIR PID
#
# Ports: Samba's LDAP server has its ports compiled in (389, 636 and, as a
# global catalog, 3268 and 3269); no smb.conf option moves them. What the
# caller chooses instead is the loopback address (--addr, or $SAMBA_AD_ADDR):
# Linux routes all of 127.0.0.0/8 to lo, so every DC gets its own address and
# several can run side by side. Without one, a free 127.x.y.z is picked; a
# restart reuses the folder's address when it is still free.
#
# --max-runtime makes the DC stop by itself after that long (Samba's
# --maximum-runtime): a test run that dies before its cleanup does not leave
# a DC behind for long.
#
# Samba runs as root (it changes ownership of its database files and uses
# privileged ports), so this script does too.
set -euo pipefail

REALM=HEADWATER.TEST
DOMAIN=HEADWATER
HOST=dc1
BASE_DN=DC=headwater,DC=test
ADMIN_DN="CN=Administrator,CN=Users,$BASE_DN"
LDAP_PORT=389
LDAPS_PORT=636
# Samba listens on all four; an address is free only when all four are.
PORTS=(389 636 3268 3269)

usage() {
  echo "usage: $0 start|status|stop DIR [--addr 127.A.B.C] [--max-runtime SECONDS] [--json]" >&2
  exit 2
}

die() {
  echo "samba-ad: $*" >&2
  exit 1
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
shift 2
want_addr=${SAMBA_AD_ADDR:-}
json=no
max_runtime=
while [ $# -gt 0 ]; do
  case $1 in
    --addr) [ $# -ge 2 ] || usage; want_addr=$2; shift 2 ;;
    --addr=*) want_addr=${1#--addr=}; shift ;;
    --max-runtime) [ $# -ge 2 ] || usage; max_runtime=$2; shift 2 ;;
    --max-runtime=*) max_runtime=${1#--max-runtime=}; shift ;;
    --json) json=yes; shift ;;
    *) usage ;;
  esac
done
if [ "$cmd" = start ]; then
  [ "$(id -u)" -eq 0 ] ||
    die "must run as root: Samba's DC runs as root (run the tests as root, as CI does, or with sudo)"
  mkdir -p "$dir"
fi
if [ -d "$dir" ]; then
  dir=$(cd "$dir" && pwd)
fi
state=$dir/headwater-ad.env
conf=$dir/etc/smb.conf
pidfile=$dir/run/samba.pid
log=$dir/log/samba.log
tls=$dir/tls

# pid prints the DC's pid when it runs from this folder.
pid() {
  [ -f "$pidfile" ] || return 1
  local p
  p=$(tr -dc '0-9' <"$pidfile")
  [ -n "$p" ] || return 1
  kill -0 "$p" 2>/dev/null || return 1
  # A DC that exited but was not reaped yet still answers kill -0.
  [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] || return 1
  # A stale pid file may name some unrelated process that got the number.
  grep -q samba "/proc/$p/comm" 2>/dev/null || grep -q samba "/proc/$p/cmdline" 2>/dev/null || return 1
  echo "$p"
}

# listening reports whether anything accepts connections on addr:port.
listening() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

addr_free() {
  local port
  for port in "${PORTS[@]}"; do
    if listening "$1" "$port"; then
      return 1
    fi
  done
}

valid_addr() {
  [[ $1 =~ ^127\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] &&
    [ "${BASH_REMATCH[1]}" -le 255 ] && [ "${BASH_REMATCH[2]}" -le 255 ] && [ "${BASH_REMATCH[3]}" -le 254 ] &&
    [ "${BASH_REMATCH[3]}" -ge 1 ]
}

# pick_addr picks a loopback address where nothing listens on Samba's ports.
# 127.0.x.x is left alone: 127.0.0.1 and Debian's 127.0.1.1 are the host's.
pick_addr() {
  local i a
  for i in $(seq 1 50); do
    a="127.$((RANDOM % 200 + 20)).$((RANDOM % 256)).$((RANDOM % 254 + 1))"
    if addr_free "$a"; then
      echo "$a"
      return 0
    fi
  done
  die "found no loopback address with ports ${PORTS[*]} free after 50 tries"
}

# make_ca creates the folder's CA once. Samba's own generated certificate
# has a negative serial number, which Go's crypto/x509 refuses, so the DC
# gets a certificate from this CA instead.
make_ca() {
  [ -s "$tls/ca.pem" ] && [ -s "$tls/ca.key" ] && return 0
  mkdir -p "$tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" -days 3650 \
    -subj "/CN=Headwater test AD CA $(openssl rand -hex 4)" \
    -set_serial "0x$(openssl rand -hex 8 | sed 's/^./1/')" \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1 ||
    die "openssl could not create the CA in $tls"
  chmod 600 "$tls/ca.key"
}

# make_server_cert issues the DC's certificate for its name and address.
make_server_cert() {
  local addr=$1 fqdn
  fqdn="$HOST.$(echo "$REALM" | tr 'A-Z' 'a-z')"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$tls/server.key" -out "$tls/server.csr" -subj "/CN=$fqdn" >/dev/null 2>&1 ||
    die "openssl could not create the server key in $tls"
  printf '%s\n' \
    "subjectAltName=DNS:$fqdn,DNS:$HOST,DNS:localhost,IP:$addr" \
    "extendedKeyUsage=serverAuth" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "basicConstraints=CA:FALSE" >"$tls/server.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -set_serial "0x$(openssl rand -hex 8 | sed 's/^./1/')" -days 825 \
    -extfile "$tls/server.ext" -out "$tls/server.pem" >/dev/null 2>&1 ||
    die "openssl could not sign the server certificate"
  # Samba refuses a key file others can read.
  chmod 600 "$tls/server.key"
  echo "$addr" >"$tls/server.addr"
}

provision() {
  local addr=$1 pass
  # Complexity rules hold: upper, lower, digit, symbol, over 7 characters.
  pass="Hw-$(openssl rand -hex 8)-Ad9!"
  rm -rf "$dir/etc" "$dir/private" "$dir/state" "$dir/cache" "$dir/bind-dns"
  mkdir -p "$dir/run" "$dir/log" "$dir/etc"
  # An empty configuration file keeps the host's /etc/samba/smb.conf out:
  # provision otherwise copies its global settings into the new one.
  : >"$dir/etc/provision.conf"
  # --dns-backend=NONE and no dns service: Samba's internal DNS would copy
  # the host's resolver as a forwarder and listen on port 53.
  if ! samba-tool domain provision \
    --configfile="$dir/etc/provision.conf" \
    --targetdir="$dir" \
    --realm="$REALM" --domain="$DOMAIN" --host-name="$HOST" \
    --server-role=dc --dns-backend=NONE \
    --adminpass="$pass" \
    --option="interfaces = $addr/8" \
    --option="bind interfaces only = yes" \
    --option="server services = ldap" \
    --option="pid directory = $dir/run" \
    --option="ncalrpc dir = $dir/run/ncalrpc" \
    --option="winbindd socket directory = $dir/run/winbindd" \
    --option="ntp signd socket directory = $dir/run/ntp_signd" \
    --option="log file = $log" \
    --option="logging = file" \
    --option="tls enabled = yes" \
    --option="tls keyfile = $tls/server.key" \
    --option="tls certfile = $tls/server.pem" \
    --option="tls cafile = $tls/ca.pem" \
    >"$dir/log/provision.log" 2>&1; then
    tail -20 "$dir/log/provision.log" >&2
    die "samba-tool domain provision failed (full output in $dir/log/provision.log)"
  fi
  # Written by hand: provision leaves some --option settings out of the
  # smb.conf it writes. With the default of 60, a password replaced less
  # than an hour ago still signs in (simple binds included), and a test
  # that the old password stopped working would fail.
  sed -i '/^\[global\]/a\	old password allowed period = 0' "$conf"
  grep -q 'old password allowed period = 0' "$conf" || die "could not edit $conf"
  {
    echo "ADMIN_PASSWORD='$pass'"
    echo "ADDR='$addr'"
  } >"$state"
  chmod 600 "$state"
}

print_info() {
  local p=$1
  # shellcheck disable=SC1090
  . "$state"
  if [ "$json" = yes ]; then
    printf '{"LDAPS_URL":"ldaps://%s:%s","LDAP_URL":"ldap://%s:%s","ADDR":"%s","LDAPS_PORT":%s,"LDAP_PORT":%s,"BASE_DN":"%s","REALM":"%s","DOMAIN":"%s","ADMIN_DN":"%s","ADMIN_PASSWORD":"%s","CA_FILE":"%s","DIR":"%s","PID":%s}\n' \
      "$ADDR" "$LDAPS_PORT" "$ADDR" "$LDAP_PORT" "$ADDR" "$LDAPS_PORT" "$LDAP_PORT" "$BASE_DN" "$REALM" "$DOMAIN" \
      "$ADMIN_DN" "$ADMIN_PASSWORD" "$tls/ca.pem" "$dir" "$p"
  else
    printf '%s\n' \
      "LDAPS_URL='ldaps://$ADDR:$LDAPS_PORT'" "LDAP_URL='ldap://$ADDR:$LDAP_PORT'" \
      "ADDR='$ADDR'" "LDAPS_PORT=$LDAPS_PORT" "LDAP_PORT=$LDAP_PORT" \
      "BASE_DN='$BASE_DN'" "REALM='$REALM'" "DOMAIN='$DOMAIN'" \
      "ADMIN_DN='$ADMIN_DN'" "ADMIN_PASSWORD='$ADMIN_PASSWORD'" \
      "CA_FILE='$tls/ca.pem'" "DIR='$dir'" "PID=$p"
  fi
}

start() {
  command -v samba >/dev/null 2>&1 && command -v samba-tool >/dev/null 2>&1 ||
    die "Samba's AD DC is not installed (samba, samba-tool): run scripts/test-deps.sh"
  command -v openssl >/dev/null 2>&1 || die "openssl is not installed"
  if [ -n "$want_addr" ] && ! valid_addr "$want_addr"; then
    die "--addr $want_addr is not a loopback address 127.A.B.C"
  fi

  local p
  if p=$(pid); then
    # shellcheck disable=SC1090
    . "$state"
    if [ -n "$want_addr" ] && [ "$want_addr" != "$ADDR" ]; then
      die "the DC in $dir already runs on $ADDR (pid $p); stop it to move it to $want_addr"
    fi
    print_info "$p"
    return 0
  fi

  local addr=$want_addr
  if [ -f "$dir/private/sam.ldb" ] && [ -f "$state" ] && [ -f "$conf" ]; then
    # shellcheck disable=SC1090
    . "$state"
    [ -n "$addr" ] || addr=$ADDR
    if ! addr_free "$addr"; then
      [ -z "$want_addr" ] || die "something already listens on $addr (ports ${PORTS[*]})"
      addr=$(pick_addr)
    fi
    if [ "$addr" != "$ADDR" ]; then
      sed -i "s#^\([[:space:]]*interfaces = \).*#\1$addr/8#" "$conf"
      sed -i "s#^ADDR=.*#ADDR='$addr'#" "$state"
    fi
  else
    if [ -z "$addr" ]; then
      addr=$(pick_addr)
    elif ! addr_free "$addr"; then
      die "something already listens on $addr (ports ${PORTS[*]})"
    fi
    make_ca
    provision "$addr"
  fi
  if [ "$(cat "$tls/server.addr" 2>/dev/null)" != "$addr" ] || [ ! -s "$tls/server.pem" ]; then
    make_server_cert "$addr"
  fi

  mkdir -p "$dir/run" "$dir/log"
  rm -f "$pidfile"
  # -M single: one process (about 60 MB) instead of a prefork pool. Its
  # standard streams go to the log, so a caller reading this script's
  # output does not wait for the daemon to close them.
  local extra=()
  if [ -n "$max_runtime" ]; then
    [[ $max_runtime =~ ^[0-9]+$ ]] || die "--max-runtime $max_runtime is not a number of seconds"
    extra+=(--maximum-runtime="$max_runtime")
  fi
  samba --configfile="$conf" --model=single --daemon "${extra[@]}" </dev/null >>"$log" 2>&1 ||
    die "samba did not start; see $log"
  local i
  for i in $(seq 1 300); do
    if p=$(pid) && listening "$addr" "$LDAPS_PORT"; then
      print_info "$p"
      return 0
    fi
    if [ "$i" -gt 20 ] && ! pid >/dev/null && [ -f "$pidfile" ]; then
      break
    fi
    sleep 0.1
  done
  tail -20 "$log" >&2
  die "the DC in $dir did not listen on $addr:$LDAPS_PORT within 30 s (log: $log)"
}

stop() {
  local p i
  if ! p=$(pid); then
    echo "samba-ad: no DC running in $dir" >&2
    return 0
  fi
  kill -TERM "$p" 2>/dev/null || true
  for i in $(seq 1 100); do
    pid >/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.1
  done
  kill -KILL "$p" 2>/dev/null || true
  rm -f "$pidfile"
}

status() {
  local p
  if p=$(pid); then
    print_info "$p"
    return 0
  fi
  if [ -f "$dir/private/sam.ldb" ]; then
    echo "samba-ad: provisioned in $dir, not running" >&2
  else
    echo "samba-ad: nothing provisioned in $dir" >&2
  fi
  return 3
}

case $cmd in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac
