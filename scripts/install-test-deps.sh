#!/usr/bin/env bash
# install-test-deps.sh: make sure the real components Roster's integration tests use
# are on this machine (Debian 12). Idempotent; prints one summary line per dependency.
#
# Usage:
#   scripts/install-test-deps.sh            ensure everything, print a summary
#   scripts/install-test-deps.sh --env      same, but stdout carries only `export` lines
#                                           (summary goes to stderr), for
#                                           eval "$(scripts/install-test-deps.sh --env)"
#   scripts/install-test-deps.sh --no-vault skip the Vault build (can combine with --env)
#
# Dependencies:
#   ansible-core  (Debian)  -> ansible-inventory
#   ansible, python3-boto3 (Debian) -> the amazon.aws collection's aws_ec2 plugin, which
#                              tests run side by side with Roster on the same fleet;
#                              the awx.awx collection's controller plugin (needs nothing
#                              more), which tests point at Roster's AWX endpoints
#   python3-google-auth (Debian) -> what google.cloud's gcp_compute plugin needs, ditto
#   python3-azure, python3-azure-cli-core, python3-adal, python3-msrestazure,
#   python3-msrest (Debian, about 540 MB) -> what azure.azcollection's azure_rm
#                              plugin needs, ditto
#   postgresql    (Debian)  -> initdb, pg_ctl, postgres, psql, createdb under
#                              /usr/lib/postgresql/<major>/bin (exported as ROSTER_PG_BIN)
#   openssh-server, openssh-client (Debian) -> sshd and ssh for the SSH certificate round trip
#   prometheus    (Debian)  -> /usr/bin/prometheus (tests run their own; the service plays no part)
#   slapd, ldap-utils (Debian) -> /usr/sbin/slapd with its modules (/usr/lib/ldap: back_mdb,
#                              memberof, refint) and schemas (/etc/ldap/schema), exported as
#                              ROSTER_SLAPD_BIN; ldapsearch & co. for looking at a test's
#                              directory by hand. The tests run their own slapd on free ports
#                              on 127.0.0.1; the system service plays no part. When this script
#                              installs slapd it first creates /etc/ldap/noslapd, the Debian
#                              package's sentinel that keeps the init script from starting it
#                              (delete the file to run a system slapd).
#   rsyslog, rsyslog-gnutls (Debian) -> /usr/sbin/rsyslogd with its modules
#                              (/usr/lib/x86_64-linux-gnu/rsyslog: imtcp, imudp, lmnsd_gtls),
#                              exported as ROSTER_RSYSLOGD_BIN: the event forwarding tests
#                              (internal/forward) run their own unprivileged rsyslogd on free
#                              ports of 127.0.0.1. The packages' postinst would start a system
#                              rsyslogd; this script keeps it from starting (policy-rc.d) and
#                              stops one it finds started by the install.
#   chromium      (Debian, about 360 MB with its libraries) -> /usr/bin/chromium,
#                              exported as ROSTER_CHROMIUM_BIN: the Web UI's end-to-end
#                              tests drive it headless through chromedp (api/webui_browser_test.go)
#   ngircd        (Debian)  -> /usr/sbin/ngircd, exported as ROSTER_NGIRCD_BIN: the IRC
#                              notification tests run their own on free ports on 127.0.0.1.
#                              While apt installs it, a policy-rc.d (only if none exists)
#                              keeps its postinst from starting a system ngircd.
#   ca-certificates (Debian)
#   curl, jq      (Debian)  -> the README's examples, which cmd/roster's TestReadmeExamples runs
#   Vault 1.14.2            -> built from the Go module proxy by scripts/build-vault.sh
#                              (exported as ROSTER_VAULT_BIN)
#   OIDC test provider      -> nothing to install: the tests build it from this tree
#                              (internal/testenv/oidcprovider, zitadel/oidc's example
#                              provider, pinned by go.sum) with `go build`, without the
#                              network. This script downloads its modules from the Go
#                              module proxy and warms the build cache, so that build takes
#                              seconds. ROSTER_OIDC_BIN, if set, names a prebuilt one.
#   Mailpit (SMTP server)   -> the same for internal/testenv/mailpit, a nested tool module
#                              (its own go.mod, so Mailpit's dependencies stay out of
#                              Roster's) that the email tests build offline; this script
#                              downloads its modules. ROSTER_MAILPIT_BIN names a prebuilt one.
# apt-get runs only when a package is missing: as root directly, otherwise through sudo.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=1     # fd for summary lines
env_mode=0
want_vault=1
for arg in "$@"; do
  case "$arg" in
    --env) env_mode=1; out=2 ;;
    --no-vault) want_vault=0 ;;
    -h|--help) sed -n '2,62p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-test-deps: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

say() { printf '%s\n' "$*" >&"$out"; }
die() { echo "install-test-deps: $*" >&2; exit 1; }

pkg_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }

# A system rsyslogd (the package's service, pid file /run/rsyslogd.pid) is
# running; the tests' own rsyslogd processes keep their pid files elsewhere.
system_rsyslogd_running() {
  [[ -s /run/rsyslogd.pid ]] && kill -0 "$(cat /run/rsyslogd.pid)" 2>/dev/null
}

# Highest-versioned PostgreSQL server bin dir, e.g. /usr/lib/postgresql/15/bin.
pg_bin_dir() {
  local d best="" bestv=-1 v
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]] || continue
    v=$(basename "$(dirname "$d")")
    [[ "$v" =~ ^[0-9]+$ ]] || continue
    if (( v > bestv )); then best=$d; bestv=$v; fi
  done
  [[ -n "$best" ]] && echo "$best"
}

# --- Debian packages -------------------------------------------------------------
missing=()
pkg_installed ca-certificates || missing+=(ca-certificates)
{ pkg_installed curl && command -v curl >/dev/null 2>&1; } || missing+=(curl)
{ pkg_installed jq && command -v jq >/dev/null 2>&1; } || missing+=(jq)
{ pkg_installed ansible-core && command -v ansible-inventory >/dev/null 2>&1; } || missing+=(ansible-core)
pkg_installed ansible || missing+=(ansible)
pkg_installed python3-boto3 || missing+=(python3-boto3)
plugin_python=(python3-google-auth python3-azure python3-azure-cli-core python3-adal python3-msrestazure python3-msrest)
for p in "${plugin_python[@]}"; do
  pkg_installed "$p" || missing+=("$p")
done
{ pkg_installed postgresql && [[ -n "$(pg_bin_dir)" ]]; } || missing+=(postgresql)
{ pkg_installed openssh-server && [[ -x /usr/sbin/sshd ]]; } || missing+=(openssh-server)
{ pkg_installed openssh-client && command -v ssh >/dev/null 2>&1; } || missing+=(openssh-client)
{ pkg_installed prometheus && [[ -x /usr/bin/prometheus ]]; } || missing+=(prometheus)
{ pkg_installed slapd && [[ -x /usr/sbin/slapd ]]; } || missing+=(slapd)
{ pkg_installed ldap-utils && command -v ldapsearch >/dev/null 2>&1; } || missing+=(ldap-utils)
{ pkg_installed chromium && [[ -x /usr/bin/chromium ]]; } || missing+=(chromium)
# systemd-analyze checks deploy/roster.service (TestRelease); installing the
# package boots nothing and starts no daemon.
{ pkg_installed systemd && command -v systemd-analyze >/dev/null 2>&1; } || missing+=(systemd)
# make release (TestRelease).
{ pkg_installed make && command -v make >/dev/null 2>&1; } || missing+=(make)
{ pkg_installed ngircd && [[ -x /usr/sbin/ngircd ]]; } || missing+=(ngircd)
{ pkg_installed rsyslog && [[ -x /usr/sbin/rsyslogd ]]; } || missing+=(rsyslog)
pkg_installed rsyslog-gnutls || missing+=(rsyslog-gnutls)

if (( ${#missing[@]} > 0 )); then
  command -v apt-get >/dev/null 2>&1 \
    || die "missing ${missing[*]} and apt-get is not available; install them (Debian packages: ${missing[*]})"
  if [[ $(id -u) -eq 0 ]]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo -n)
  else
    die "missing ${missing[*]}; run as root: apt-get install -y --no-install-recommends ${missing[*]}"
  fi
  echo "install-test-deps: installing ${missing[*]}" >&2
  if [[ " ${missing[*]} " == *" slapd "* ]] && ! pkg_installed slapd; then
    # The package's postinst starts a system slapd unless this sentinel exists.
    "${as_root[@]}" sh -c 'mkdir -p /etc/ldap && touch /etc/ldap/noslapd' \
      || die "could not create /etc/ldap/noslapd (keeps the slapd package from starting a system server)"
  fi
  rsyslog_was_running=0
  system_rsyslogd_running && rsyslog_was_running=1
  # Keep the postinst of a daemon (rsyslog, ngircd) from starting it: invoke-rc.d
  # asks policy-rc.d, and 101 means "not now". Docker images ship one
  # already; any other is only added for this install.
  policy_added=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    "${as_root[@]}" sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d' \
      && policy_added=1
  fi
  aptlog=$(mktemp "${TMPDIR:-/tmp}/roster-apt.XXXXXX")
  apt_install() {
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
           --no-install-recommends -o Dpkg::Options::=--force-confdef \
           -o Dpkg::Options::=--force-confold "${missing[@]}"
  }
  if ! apt_install >"$aptlog" 2>&1; then
    echo "install-test-deps: apt-get failed once; retrying in 5s" >&2
    sleep 5
    if ! apt_install >>"$aptlog" 2>&1; then
      tail -n 30 "$aptlog" >&2
      rm -f "$aptlog"
      (( policy_added )) && "${as_root[@]}" rm -f /usr/sbin/policy-rc.d
      die "could not install ${missing[*]} with apt-get (as root: apt-get install -y --no-install-recommends ${missing[*]})"
    fi
  fi
  rm -f "$aptlog"
  (( policy_added )) && "${as_root[@]}" rm -f /usr/sbin/policy-rc.d
  # systemd ignores policy-rc.d for socket activation: stop a system
  # rsyslogd the install started (one running before is left alone).
  if (( ! rsyslog_was_running )) && system_rsyslogd_running; then
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
      "${as_root[@]}" systemctl disable --now rsyslog.service syslog.socket >/dev/null 2>&1 || true
    else
      "${as_root[@]}" kill "$(cat /run/rsyslogd.pid)" || true
    fi
  fi
fi

# --- summary -----------------------------------------------------------------------
pkg_installed ca-certificates || die "ca-certificates is still not installed"
say "ca-certificates: $(pkg_version ca-certificates)"

ansible_inventory=$(command -v ansible-inventory) || die "ansible-inventory not found after installing ansible-core"
say "ansible-inventory: $ansible_inventory (ansible-core $(pkg_version ansible-core))"
say "ansible collections: $(pkg_version ansible), python3-boto3 $(pkg_version python3-boto3)"
for p in "${plugin_python[@]}"; do
  pkg_installed "$p" || die "$p is still not installed"
done
say "plugin libraries: python3-google-auth $(pkg_version python3-google-auth), python3-azure $(pkg_version python3-azure), python3-adal $(pkg_version python3-adal), python3-msrestazure $(pkg_version python3-msrestazure)"

say "openssh: /usr/sbin/sshd ($(pkg_version openssh-server)), $(command -v ssh)"

slapd_bin=/usr/sbin/slapd
[[ -x "$slapd_bin" ]] || die "$slapd_bin not found after installing slapd"
for f in /usr/lib/ldap/back_mdb.so /usr/lib/ldap/memberof.so /usr/lib/ldap/refint.so /etc/ldap/schema/inetorgperson.ldif; do
  [[ -e "$f" ]] || die "$f is missing (it comes with the slapd package)"
done
say "slapd: $slapd_bin (slapd $(pkg_version slapd)), $(command -v ldapsearch) (ldap-utils $(pkg_version ldap-utils))"
if pgrep -x slapd >/dev/null 2>&1; then
  say "slapd: note: a system slapd is running; the tests do not use it (they start their own on free ports)"
fi

ngircd_bin=/usr/sbin/ngircd
[[ -x "$ngircd_bin" ]] || die "$ngircd_bin not found after installing ngircd"
say "ngircd: $ngircd_bin (ngircd $(pkg_version ngircd))"
if pgrep -x ngircd >/dev/null 2>&1; then
  say "ngircd: note: a system ngircd is running; the tests do not use it (they start their own on free ports)"
fi
rsyslogd_bin=/usr/sbin/rsyslogd
[[ -x "$rsyslogd_bin" ]] || die "$rsyslogd_bin not found after installing rsyslog"
for f in imtcp.so imudp.so lmnsd_gtls.so; do
  [[ -e "/usr/lib/x86_64-linux-gnu/rsyslog/$f" ]] || die "/usr/lib/x86_64-linux-gnu/rsyslog/$f is missing (rsyslog, rsyslog-gnutls)"
done
say "rsyslogd: $rsyslogd_bin (rsyslog $(pkg_version rsyslog), rsyslog-gnutls $(pkg_version rsyslog-gnutls))"

chromium_bin=/usr/bin/chromium
[[ -x "$chromium_bin" ]] || die "$chromium_bin not found after installing chromium"
say "chromium: $chromium_bin (chromium $(pkg_version chromium))"

command -v systemd-analyze >/dev/null 2>&1 || die "systemd-analyze not found after installing systemd"
say "systemd-analyze: $(command -v systemd-analyze) (systemd $(pkg_version systemd))"

pg_bin=$(pg_bin_dir) || die "no /usr/lib/postgresql/*/bin with initdb, pg_ctl and postgres after installing postgresql"
say "postgresql: $pg_bin (postgresql $(pkg_version "postgresql-$(basename "$(dirname "$pg_bin")")"))"
if [[ $(id -u) -eq 0 ]] && ! getent passwd postgres >/dev/null; then
  die "running as root but there is no 'postgres' user to run initdb as (it comes with the postgresql package)"
fi

vault_bin=""
if (( want_vault )); then
  # build-vault.sh prints progress on stderr and the binary path as its last stdout line.
  vault_bin=$("$here/build-vault.sh" | tail -n 1) || die "scripts/build-vault.sh failed"
  [[ -x "$vault_bin" ]] || die "scripts/build-vault.sh did not produce an executable ($vault_bin)"
  say "vault: $vault_bin ($("$vault_bin" version 2>/dev/null | head -n 1))"
fi

# The OIDC test provider: the same build as testenv.OIDCProviderBinary's, output
# discarded; it fetches the modules (the tests build with GOPROXY=off) and fills
# the build cache.
command -v go >/dev/null 2>&1 || die "the Go toolchain (go) is not on PATH; the tests build the OIDC provider with it"
if ! oidc_out=$(cd "$here/.." && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
    go build -trimpath -o /dev/null ./internal/testenv/oidcprovider 2>&1); then
  printf '%s\n' "$oidc_out" >&2
  die "could not build internal/testenv/oidcprovider (the OIDC test provider)"
fi
say "oidc test provider: internal/testenv/oidcprovider builds ($(cd "$here/.." && go list -m -f '{{.Path}} {{.Version}}' github.com/zitadel/oidc/v3))"

# Mailpit, for the email tests: download the nested tool module's modules (the
# tests build it with GOPROXY=off) and fill the build cache.
if ! mailpit_out=$(cd "$here/../internal/testenv/mailpit" && CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" \
    go build -trimpath -o /dev/null . 2>&1); then
  printf '%s\n' "$mailpit_out" >&2
  die "could not build internal/testenv/mailpit (the SMTP test server)"
fi
say "mailpit: internal/testenv/mailpit builds ($(cd "$here/../internal/testenv/mailpit" && GOWORK=off go list -m -f '{{.Path}} {{.Version}}' github.com/axllent/mailpit))"

if (( env_mode )); then
  printf 'export ROSTER_PG_BIN=%q\n' "$pg_bin"
  printf 'export ROSTER_NGIRCD_BIN=%q\n' "$ngircd_bin"
  printf 'export ROSTER_SLAPD_BIN=%q\n' "$slapd_bin"
  printf 'export ROSTER_CHROMIUM_BIN=%q\n' "$chromium_bin"
  printf 'export ROSTER_RSYSLOGD_BIN=%q\n' "$rsyslogd_bin"
  [[ -n "$vault_bin" ]] && printf 'export ROSTER_VAULT_BIN=%q\n' "$vault_bin"
fi
exit 0
