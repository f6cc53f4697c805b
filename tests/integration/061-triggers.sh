#!/bin/bash
# SPDX-License-Identifier: MIT
# The triggers as installed: the NetworkManager and networkd-dispatcher hooks start the pass
# (systemctl --no-block start est-enroll.service) on up, vpn-up and full connectivity, and do
# nothing otherwise; the udev rule starts it through systemd, never with RUN+=.
. "$(dirname "$0")/helpers.sh"
. "$TESTS_SRCDIR/helpers/installed.sh"

install_destdir
NM="$INST$EST_NMDISPATCHERDIR/90-est-enroll"
ND="$INST$EST_NETWORKDDISPATCHERDIR/routable.d/est-enroll"
RULES="$INST$EST_UDEVRULESDIR/90-est-enroll.rules"

# NetworkManager runs only root's scripts that group and others cannot write, and no setuid.
for f in "$NM" "$ND"; do
	check "${f#"$INST"} is installed" test -f "$f"
	is "${f#"$INST"} is mode 755" "$(stat -c %a "$f")" 755
	is "${f#"$INST"} is root's" "$(stat -c %u "$f")" "$(id -u)"
done

# A systemctl first on PATH that records its arguments, one call a line.
mkdir -p "$T/bin"
cat >"$T/bin/systemctl" <<EOS
#!/bin/sh
echo "\$*" >>"$T/calls"
EOS
chmod +x "$T/bin/systemctl"
START="--no-block start est-enroll.service"

# hook DESCRIPTION EXPECTED ENV... -- HOOK ARGS...: runs the hook with a clean environment
# (only PATH and ENV), checks its exit code 0 and the systemctl calls it made.
hook() {
	local desc=$1 expected=$2 env=()
	shift 2
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	rm -f "$T/calls"
	env -i PATH="$T/bin:/usr/bin:/bin" "${env[@]}" "$@" >"$T/out" 2>"$T/err"
	is "$desc: exit 0" "$?" 0
	is "$desc: systemctl calls" "$(cat "$T/calls" 2>/dev/null)" "$expected"
}

hook "NM eth0 up" "$START" -- "$NM" eth0 up
hook "NM wlan0 up" "$START" DEVICE_IFACE=wlan0 -- "$NM" wlan0 up
hook "NM tun0 vpn-up" "$START" VPN_IP_IFACE=tun0 -- "$NM" tun0 vpn-up
hook "NM connectivity FULL" "$START" CONNECTIVITY_STATE=FULL -- "$NM" "" connectivity-change
for state in NONE PORTAL LIMITED UNKNOWN; do
	hook "NM connectivity $state" "" CONNECTIVITY_STATE=$state -- "$NM" "" connectivity-change
done
hook "NM connectivity without a state" "" -- "$NM" "" connectivity-change
for action in down vpn-down pre-up pre-down vpn-pre-up dhcp4-change dhcp6-change hostname \
	reapply dns-change; do
	hook "NM eth0 $action" "" -- "$NM" eth0 "$action"
done
hook "NM lo up" "" -- "$NM" lo up
hook "NM without arguments" "" -- "$NM"

hook "networkd eth0 routable" "$START" IFACE=eth0 STATE=routable -- "$ND"
hook "networkd wlan0 routable, no STATE" "$START" IFACE=wlan0 -- "$ND"
for state in off no-carrier dormant carrier degraded configuring configured; do
	hook "networkd eth0 $state" "" IFACE=eth0 STATE=$state -- "$ND"
done
hook "networkd lo routable" "" IFACE=lo STATE=routable -- "$ND"

# The udev rule. udevadm verify exists from systemd 253 on; Debian 12 has 252.
check "the udev rule is installed" test -f "$RULES"
if udevadm verify --help >/dev/null 2>&1; then
	udevadm verify "$RULES" >"$T/out" 2>"$T/err"
	is "udevadm verify accepts the rule" "$?" 0
else
	echo "# udevadm verify not available: checking the rule's text"
fi
rules=$(grep -v '^[[:space:]]*#' "$RULES")
check "the rule starts no program (no RUN+=)" bash -c '! grep -q "RUN" <<<"$1"' _ "$rules"
check "the rule tags for systemd" grep -q 'TAG+="systemd"' <<<"$rules"
is "two matches want est-enroll.service" \
	"$(grep -c 'ENV{SYSTEMD_WANTS}+="est-enroll.service"' <<<"$rules")" 2
check "only on add" grep -qx 'ACTION!="add", GOTO="est_enroll_end"' <<<"$rules"
check "virtual network interfaces (lo, veth, bridges, tun/tap) are skipped first" bash -c '
	skip=$(grep -n "SUBSYSTEM==\"net\", DEVPATH==\"\*/virtual/\*\", GOTO=\"est_enroll_end\"" <<<"$1" | cut -d: -f1)
	want=$(grep -n "SUBSYSTEM==\"net\", TAG+=" <<<"$1" | cut -d: -f1)
	[ -n "$skip" ] && [ -n "$want" ] && [ "$skip" -lt "$want" ]' _ "$rules"
check "a TPM resource manager device starts a pass" \
	grep -q '^SUBSYSTEM=="tpmrm", TAG+="systemd", ENV{SYSTEMD_WANTS}+="est-enroll.service"' <<<"$rules"
check "every GOTO has its LABEL" grep -qx 'LABEL="est_enroll_end"' <<<"$rules"

done_testing
