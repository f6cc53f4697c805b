#!/bin/bash
# SPDX-License-Identifier: MIT
# The systemd units as installed: systemd-analyze verify is silent on each, every service's
# exposure is at most 2.0, the profile units match the main ones, no service writes a core
# file, the passes wait for a set clock and the loads do not, enabling a profile's timer wires
# its pass and its boot-time load in.
. "$(dirname "$0")/helpers.sh"
. "$TESTS_SRCDIR/helpers/installed.sh"

command -v systemd-analyze >/dev/null || skip_all "systemd-analyze not installed (apt-get install systemd)"

install_destdir
services="est-enroll.service est-enroll@.service est-enroll-load.service est-enroll-load@.service"
units="$services est-enroll.timer est-enroll@.timer est-enroll.target"
for u in $units; do
	check "$u is installed in $EST_SYSTEMDUNITDIR" test -f "$UNITS/$u"
done
check "no unsubstituted @...@ is left in the units" bash -c "! grep -n '@[a-z_]*@' $UNITS/est-enroll*"
check "est-enroll.service runs the configured binary on the configured file" \
	grep -qx "ExecStart=$EST_BINDIR/est-enroll -c $EST_SYSCONFDIR/est-enroll/est-enroll.conf run" \
	"$UNITS/est-enroll.service"
check "est-enroll@.service runs the profile's file" \
	grep -qx "ExecStart=$EST_BINDIR/est-enroll -c $EST_SYSCONFDIR/est-enroll/%i.conf run" \
	"$UNITS/est-enroll@.service"
check "est-enroll-load@.service loads the profile's store" \
	grep -qx "ExecStart=$EST_BINDIR/est-enroll -c $EST_SYSCONFDIR/est-enroll/%i.conf load" \
	"$UNITS/est-enroll-load@.service"

# service_settings UNIT: the [Service] lines without comments and without the profile's name.
service_settings() {
	sed -n '/^\[Service\]/,/^\[/p' "$UNITS/$1" | grep -v '^#\|^\[' | sed 's|%i\.conf|est-enroll.conf|'
}
is "est-enroll@.service is sandboxed exactly as est-enroll.service" \
	"$(service_settings est-enroll@.service)" "$(service_settings est-enroll.service)"
is "est-enroll-load@.service is sandboxed exactly as est-enroll-load.service" \
	"$(service_settings est-enroll-load@.service)" "$(service_settings est-enroll-load.service)"

for u in est-enroll.service est-enroll@.service; do
	check "$u: 75 (try later) counts as success" grep -qx "SuccessExitStatus=75" "$UNITS/$u"
	check "$u: 1 is not hidden" bash -c "! grep '^SuccessExitStatus=.*\\b1\\b' '$UNITS/$u'"
	check "$u: no restart on 1, 2 or 77" grep -qx "RestartPreventExitStatus=1 2 77" "$UNITS/$u"
	check "$u: reaches the network (AF_INET, AF_INET6, AF_UNIX)" \
		grep -qx "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" "$UNITS/$u"
	check "$u: waits for the network" grep -qx "After=network-online.target.*" "$UNITS/$u"
	check "$u: waits for a set clock (After=time-sync.target)" \
		grep -qx "After=.* time-sync.target\( .*\)\?" "$UNITS/$u"
done
for u in $services; do
	check "$u: root's keyring is shared (KeyringMode=shared)" grep -qx "KeyringMode=shared" "$UNITS/$u"
	check "$u: state directory traversable by the group (0755)" \
		grep -qx "StateDirectoryMode=0755" "$UNITS/$u"
	check "$u: runtime directory readable (0755)" grep -qx "RuntimeDirectoryMode=0755" "$UNITS/$u"
	check "$u: the serials file survives the pass" \
		grep -qx "RuntimeDirectoryPreserve=yes" "$UNITS/$u"
	check "$u: no LoadCredential= (a missing file fails the unit)" \
		bash -c "! grep -q '^LoadCredential' '$UNITS/$u'"
	check "$u: no core file (LimitCORE=0)" grep -qx "LimitCORE=0" "$UNITS/$u"
done
for u in est-enroll-load.service est-enroll-load@.service; do
	check "$u: ordered before est-enroll.target and pulls it in" \
		bash -c "grep -q '^Before=.*est-enroll.target' '$UNITS/$u' && grep -qx 'Wants=est-enroll.target' '$UNITS/$u'"
	check "$u: no network" grep -qx "PrivateNetwork=yes" "$UNITS/$u"
	# Early at boot, before the clock is set: time-sync.target comes after sysinit.target.
	check "$u: runs early (DefaultDependencies=no, Before=sysinit.target)" \
		bash -c "grep -qx 'DefaultDependencies=no' '$UNITS/$u' && grep -q '^Before=sysinit.target' '$UNITS/$u'"
	check "$u: does not wait for the clock (no time-sync.target)" \
		bash -c "! grep -q 'time-sync.target' '$UNITS/$u'"
done

# exposure UNIT-FILE: the number of systemd-analyze's "Overall exposure level" line.
exposure() {
	systemd-analyze security --offline=yes "$1" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
for u in $services; do
	e=$(exposure "$UNITS/$u")
	echo "# $u: exposure $e"
	check "$u: exposure '$e' is at most 2.0" awk -v e="$e" 'BEGIN { exit !(e != "" && e <= 2.0) }'
done

unit_root
# verify UNIT...: systemd-analyze verify in the scratch root exits 0 and says nothing.
verify() {
	(cd "$ROOT" && systemd-analyze verify --root="$ROOT" --man=no "$@") >"$T/verify" 2>&1
	local rc=$?
	sed 's/^/#   /' "$T/verify"
	[ $rc -eq 0 ] && [ ! -s "$T/verify" ]
}
for u in est-enroll.service est-enroll@gw.service est-enroll-load.service \
	est-enroll-load@gw.service est-enroll.timer est-enroll@gw.timer est-enroll.target; do
	check "systemd-analyze verify $u is clean" verify "$u"
done
# Enabling, the Debian way (dh_installsystemd) and for a profile, in the scratch root.
wants() { # TARGET UNIT: the enablement symlink exists
	test -L "$ROOT/etc/systemd/system/$1.wants/$2"
}
systemctl --root="$ROOT" enable est-enroll.timer est-enroll-load.service >/dev/null 2>&1
is "systemctl enable est-enroll.timer est-enroll-load.service exits 0" "$?" 0
check "the timer is wanted by timers.target" wants timers.target est-enroll.timer
check "the boot-time load is wanted by sysinit.target" wants sysinit.target est-enroll-load.service
systemctl --root="$ROOT" enable est-enroll@gw.timer >/dev/null 2>&1
is "systemctl enable est-enroll@gw.timer exits 0" "$?" 0
check "the profile's timer is wanted by timers.target" wants timers.target est-enroll@gw.timer
check "the profile's pass is wanted by est-enroll.service (every trigger starts it)" \
	wants est-enroll.service est-enroll@gw.service
check "the profile's load is wanted by sysinit.target" wants sysinit.target est-enroll-load@gw.service
check "systemd-analyze verify est-enroll.service with a profile enabled is clean" \
	verify est-enroll.service
systemctl --root="$ROOT" disable est-enroll@gw.timer >/dev/null 2>&1
check "disabling the profile's timer unwires its pass" bash -c \
	"! test -e '$ROOT/etc/systemd/system/est-enroll.service.wants/est-enroll@gw.service'"
check "and its load" bash -c \
	"! test -e '$ROOT/etc/systemd/system/sysinit.target.wants/est-enroll-load@gw.service'"

done_testing
