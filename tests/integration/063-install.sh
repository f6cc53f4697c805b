#!/bin/bash
# SPDX-License-Identifier: MIT
# make install DESTDIR=: exactly the expected files with their modes, the man pages with the
# configured paths and lint-clean (man --warnings), est-enroll.conf(5) naming every key with
# its default and the original attribute, every page the units cite; uninstall leaves none.
. "$(dirname "$0")/helpers.sh"
. "$TESTS_SRCDIR/helpers/installed.sh"

install_destdir
mode_list "$INST" >"$T/installed"
{
	echo "755 ${EST_BINDIR#/}/est-enroll"
	echo "644 ${EST_SYSCONFDIR#/}/est-enroll/est-enroll.conf"
	echo "644 ${EST_MANDIR#/}/man5/est-enroll.conf.5"
	echo "644 ${EST_MANDIR#/}/man7/est-enroll-keyring.7"
	echo "644 ${EST_MANDIR#/}/man8/est-enroll.8"
	echo "644 ${EST_DOCDIR#/}/examples/read-key.c"
	echo "644 ${EST_DOCDIR#/}/examples/tpm.conf"
	for u in est-enroll-load.service est-enroll-load@.service est-enroll.service \
		est-enroll.target est-enroll.timer est-enroll@.service est-enroll@.timer; do
		echo "644 ${EST_SYSTEMDUNITDIR#/}/$u"
	done
	echo "644 ${EST_UDEVRULESDIR#/}/90-est-enroll.rules"
	echo "755 ${EST_NMDISPATCHERDIR#/}/90-est-enroll"
	echo "755 ${EST_NETWORKDDISPATCHERDIR#/}/routable.d/est-enroll"
} | sort -k2 >"$T/expected"
if cmp -s "$T/installed" "$T/expected"; then
	tap_result 0 "make install installs exactly the expected files, with their modes"
else
	tap_result 1 "make install installs exactly the expected files, with their modes"
	diff "$T/expected" "$T/installed" | sed 's/^/#   /'
fi
sed 's/^/# installed: /' "$T/installed"
is "the state directory is 0755" "$(stat -c %a "$INST$EST_LOCALSTATEDIR/lib/est-enroll")" 755
is "the hooks directory is 0755" "$(stat -c %a "$INST$EST_SYSCONFDIR/est-enroll/hooks.d")" 755

pages="man8/est-enroll.8 man5/est-enroll.conf.5 man7/est-enroll-keyring.7"
for p in $pages; do
	f="$INST$EST_MANDIR/$p"
	check "$p: no unsubstituted @...@" bash -c "! grep -n '@[a-z_A-Z]*@' '$f'"
	check "$p: names the configured $EST_SYSCONFDIR" grep -q "$EST_SYSCONFDIR/est" "$f"
	# As lintian runs it (80 columns), and on a narrower terminal.
	for width in 80 65; do
		LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=$width \
			man --warnings -E UTF-8 -l -Tutf8 -Z "$f" 2>"$T/man.err" >/dev/null
		is "$p: man --warnings at $width columns exits 0" "$?" 0
		check "$p: man --warnings at $width columns prints nothing" test ! -s "$T/man.err"
		sed 's/^/#   /' "$T/man.err"
	done
	for ref in $(grep -o '^\.BR est-enroll[a-z.-]* ([0-9])' "$f" | sed 's/^\.BR //; s/ //' | sort -u); do
		n=${ref%%(*}; s=${ref#*(}; s=${s%)}
		check "$p: the page it cites, $ref, is installed" test -f "$INST$EST_MANDIR/man$s/$n.$s"
	done
done
check "est-enroll.8 names the configured runtime directory" \
	grep -q "$EST_RUNSTATEDIR/est-enroll/NAME.keys" "$INST$EST_MANDIR/man8/est-enroll.8"

for u in est-enroll.service est-enroll@.service est-enroll-load.service est-enroll-load@.service \
	est-enroll.timer est-enroll@.timer est-enroll.target; do
	check "every Documentation= page of $u is installed" bash -c '
		for m in $(sed -n "s/^Documentation=//p" "$1"); do
			m=${m#man:}; n=${m%%(*}; s=${m#*(}; s=${s%)}
			test -f "$2/man$s/$n.$s" || { echo "# missing $m"; exit 1; }
		done' _ "$INST$EST_SYSTEMDUNITDIR/$u" "$INST$EST_MANDIR"
done

# est-enroll.conf(5): each key with its default (".BR key " (default)"" or ".B key" for the
# required ones) and the original service's attribute name, in italics, right below.
conf5="$INST$EST_MANDIR/man5/est-enroll.conf.5"
while IFS='|' read -r key attr; do
	check "est-enroll.conf(5) documents $key" grep -q "^\.BR\? $key\b" "$conf5"
	[ -n "$attr" ] || continue
	check "est-enroll.conf(5): $key is the original '$attr'" bash -c \
		'grep -A1 "^\.BR\? $1\b" "$3" | grep -qF "$2"' _ "$key" "$attr" "$conf5"
done <<'EOF_KEYS'
enabled|Enabled
keystore|KeystoreService Target Filter
server|EST server endpoint
label|EST server endpoint label
ca_root|CA root certificate
server_trust|
proxy|
ca_rollover|CA certificate rollover
expiration_check|Certificate expiration check time
retry_interval|Connect Retry-interval
retry_timeout|
timeout|
tls_client_auth|TLS Client authentication
tls_client_keystore|TLSClientKeystoreService Target Filter
tls_client_alias|TLS Client authentication alias
http_auth|Enable HTTP basic authentication / digest
username|HTTP basic authentication username
password|HTTP basic authentication password
pop|Proof-of-Possession
pop_binding|
renew|Client Certificate renew
renew_rekey|
subject|Subject DN
key_algorithm|KeyPair generator algorithm
key_params|KeyPair generator algorithm parameter set
key_source|
csr_signer|CSR signer algorithm
hooks|
metrics|
type|
keyring|
path|
fallback|
group|
key|
cert|
ca|
owner|
mode|
EOF_KEYS
# The defaults the page gives are the binary's: check-config of a minimal file prints them.
make_pki
printf '[est]\nserver = localhost:1\nca_root = %s\nsubject = CN=x\n' "$P/ca.pem" >"$T/min.conf"
"$EST_ENROLL" -c "$T/min.conf" check-config >"$T/config" 2>"$T/err"
for key in enabled ca_rollover expiration_check retry_timeout timeout tls_client_auth \
	tls_client_alias http_auth pop pop_binding renew renew_rekey key_algorithm key_source \
	metrics; do
	v=$(sed -n "s/^$key = //p" "$T/config" | head -1)
	[ -n "$v" ] || v=empty # the page says (empty) where check-config prints "key ="
	check "est-enroll.conf(5): $key defaults to '$v' as check-config says" \
		grep -q "^\.BR $key \" ($v)\"" "$conf5"
done

$MAKE -s -C "$TOP_BUILDDIR" uninstall DESTDIR="$INST" >"$T/uninstall.log" 2>&1
is "make uninstall exits 0" "$?" 0
is "and leaves no file behind" "$(find "$INST" -type f -o -type l)" ""

done_testing
