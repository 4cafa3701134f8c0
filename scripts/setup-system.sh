#!/usr/bin/env bash
# Installs the system packages the tests use for real when missing: nft and fail2ban-client (enforce),
# kamailio with its http_client and json modules (the verdict service's SIP proxy example), sipvicious
# (the SIP scanner tests/system/test_real_attack.py attacks Kamailio with), chromium and chromium-driver
# (the console's tests in a real browser), openssh-server (the SFTP server of tollguard archive's tests).
# Only as root with apt-get (Debian/Ubuntu); anywhere else it says loudly what is missing and exits 0,
# and those tests skip with their own reason. Called by `make test`.
set -u

want=()
command -v nft >/dev/null 2>&1 || want+=(nftables)
command -v fail2ban-client >/dev/null 2>&1 || want+=(fail2ban)
command -v ip >/dev/null 2>&1 || want+=(iproute2)
KAMAILIO_MODULES=/usr/lib/x86_64-linux-gnu/kamailio/modules
command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || want+=(kamailio)
[ -e "$KAMAILIO_MODULES/http_client.so" ] || want+=(kamailio-utils-modules)
[ -e "$KAMAILIO_MODULES/json.so" ] || want+=(kamailio-json-modules)
command -v svcrack >/dev/null 2>&1 || want+=(sipvicious)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v chromedriver >/dev/null 2>&1 || want+=(chromium-driver)
[ -x /usr/sbin/sshd ] || want+=(openssh-server)   # the SFTP server tollguard archive's tests send to
command -v sftp >/dev/null 2>&1 || want+=(openssh-client)   # tollguard archive runs OpenSSH's sftp for sftp://

if [ ${#want[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "!!! setup-system: NOT ROOT: cannot install ${want[*]}; the nftables/fail2ban/kamailio/scanner/browser tests will be skipped !!!" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "!!! setup-system: NO apt-get: install ${want[*]} yourself; the nftables/fail2ban/kamailio/scanner/browser tests will be skipped !!!" >&2
    exit 0
fi
echo "setup-system: installing ${want[*]}" >&2
# the packages' own services (fail2ban's sshd jail) are not started by the install: the tests start their own
own_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; own_policy=1; fi
trap '[ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}"; }; then
    echo "!!! setup-system: apt-get could not install ${want[*]}; the nftables/fail2ban/kamailio/scanner/browser tests will be skipped !!!" >&2
fi
exit 0
