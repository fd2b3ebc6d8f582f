#!/usr/bin/env bash
# Installs what `meshlink rehearse` runs: a MariaDB server and client, and HAProxy.
# Idempotent: does nothing when every tool is already on PATH, and refreshes the apt
# lists only when something has to be installed. Non-interactive, so CI can call it.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

# mariadbd (or the older mysqld name) and mariadb-install-db come from mariadb-server.
if ! { have mariadbd || have mysqld; } || ! have mariadb-install-db; then
    missing+=(mariadb-server)
fi
have mariadb || missing+=(mariadb-client)
have haproxy || missing+=(haproxy)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "rehearsal tools present: mariadb-server, mariadb-client, haproxy" >&2
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

echo "installing the rehearsal tools with apt (first run only, a minute or two):" \
    "${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Two `make test` runs at once (or unattended upgrades) contend for the dpkg lock: wait for
# it instead of failing.
apt_wait=(-o DPkg::Lock::Timeout=600)
$SUDO apt-get "${apt_wait[@]}" update -qq
# policy-rc.d keeps the package from starting a system MariaDB: the rehearsal starts its
# own server in a throw-away data directory, and a system one would hold port 3306.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends "${missing[@]}" </dev/null
