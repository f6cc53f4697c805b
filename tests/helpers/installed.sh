# SPDX-License-Identifier: MIT
# Sourced by the tests of the installed layout (tests/integration/06x-*.sh), after helpers.sh:
# "make install" into a DESTDIR of the test's own, and where each kind of file lands there.
# The directories come from the Makefile (AM_TESTS_ENVIRONMENT), as configured.
: "${TOP_BUILDDIR:?run through make check}"
: "${MAKE:=make}"

INST="$T/inst"
# install_destdir: make install DESTDIR=$INST; bails out when it fails.
install_destdir() {
	if ! $MAKE -s -C "$TOP_BUILDDIR" install DESTDIR="$INST" >"$T/install.log" 2>&1; then
		sed 's/^/# /' "$T/install.log" | tail -20
		echo "Bail out! make install DESTDIR=$INST failed"
		exit 1
	fi
	UNITS="$INST$EST_SYSTEMDUNITDIR"
}

# unit_root: a scratch root for "systemctl --root" and "systemd-analyze verify --root": this
# host's units, ours in etc/systemd/system, the binary at its configured path. Sets ROOT.
unit_root() {
	ROOT="$T/root"
	mkdir -p "$ROOT/usr/lib/systemd" "$ROOT/etc/systemd/system" "$ROOT$EST_BINDIR"
	ln -s usr/lib "$ROOT/lib"
	cp -a /usr/lib/systemd/system "$ROOT/usr/lib/systemd/" 2>/dev/null ||
		cp -a /lib/systemd/system "$ROOT/usr/lib/systemd/"
	cp "$UNITS"/est-enroll* "$ROOT/etc/systemd/system/"
	cp "$INST$EST_BINDIR/est-enroll" "$ROOT$EST_BINDIR/"
}

# mode_list DIR: "MODE PATH" of everything below DIR (PATH relative to it), sorted.
mode_list() {
	(cd "$1" && find . -mindepth 1 \( -type f -o -type l \) -printf '%m %P\n' | sort -k2)
}
