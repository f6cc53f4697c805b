#!/bin/bash
# SPDX-License-Identifier: MIT
# The lock is the store's (an flock on the store directory, whatever RUNTIME_DIRECTORY says):
# load waits for it, run gives way at once. load keeps keys it does not own; publishing the
# serials is best effort.
. "$(dirname "$0")/helpers.sh"

start_server
write_config
est run --once
is "enrolled: exit 0" "$RC" 0

# 9. load waits for a pass that holds the store: the keyring was lost, another pass is busy.
keyctl clear "$(keyring_id)"
hold_store_lock
"$EST_ENROLL" -c "$T/est.conf" load >"$T/out" 2>"$T/err" &
pid=$!
# Until the kernel shows load waiting, or load is gone, or 10 s passed.
blocked_or_gone() {
	blocked_on_lock "$pid" || exited "$pid"
}
wait_until 10 blocked_or_gone
check "load waits for the store lock" blocked_on_lock "$pid"
check "load has not finished while the lock is held" kill -0 "$pid"
release_store_lock
wait "$pid"
is "load exits 0 once the lock is free" "$?" 0
check "load restored the keyring from the file copy" copies_agree

# A key of someone else's in the keyring, with no file copy (here the TLS client pair put in
# place with keyctl): load and run make the keyring equal to the copy only for what they own.
keyctl padd user client-auth-certs "$(keyring_id)" <"$SRV/client-auth.pem" >/dev/null
est load
is "load with a foreign key in the keyring: exit 0" "$RC" 0
check "load keeps client-auth-certs unchanged" \
	cmp -s <(key_pipe client-auth-certs) "$SRV/client-auth.pem"
keyctl padd user client-auth-certs "$(keyring_id)" <"$SRV/client-auth.pem" >/dev/null
est run --once
is "run with a foreign key in the keyring: exit 0" "$RC" 0
check "run keeps client-auth-certs unchanged" \
	cmp -s <(key_pipe client-auth-certs) "$SRV/client-auth.pem"

# store_empty: neither copy holds anything of the store.
store_empty() {
	[ -z "$(est_aliases keyring)" ] && [ -z "$(est_aliases file)" ]
}

# 10. run gives way at once to a holder of the store lock, also when it was started with
# another runtime directory (the lock is not a file in RUNTIME_DIRECTORY). The store is emptied
# first, so a run that ignored the lock would enroll and show up in the request log.
for rt in "$RUNTIME_DIRECTORY" "$T/run2"; do
	[ "$rt" = "$RUNTIME_DIRECTORY" ] && what="same runtime dir" || what="other runtime dir"
	rm -f "$T/store"/*
	keyctl clear "$(keyring_id)"
	hold_store_lock
	n=$(requests_count)
	RUNTIME_DIRECTORY=$rt "$EST_ENROLL" -c "$T/est.conf" run --once >"$T/out" 2>"$T/err" &
	pid=$!
	wait_until 10 exited "$pid"
	check "store locked, $what: run returns at once" exited "$pid"
	release_store_lock # a run that waits for the lock finishes now
	wait "$pid"
	is "store locked, $what: run exits 75" "$?" 75
	is "store locked, $what: no request was sent" "$(requests_count)" "$n"
	check "store locked, $what: both copies are still empty" store_empty
done

# Publishing the serials is best effort: RUNTIME_DIRECTORY/it.keys cannot be written (it is a
# directory); a fresh enrollment is stored all the same, in both copies, with a warning.
rm -f "$T/store"/*
keyctl clear "$(keyring_id)"
rm -rf "$RUNTIME_DIRECTORY"
mkdir -p "$RUNTIME_DIRECTORY/it.keys"
est run --once
is "it.keys unwritable: run exits 0" "$RC" 0
check "it.keys unwritable: a warning (not an error) names it" \
	grep -q "warning: .*it\.keys" "$T/err"
check "it.keys unwritable: the keyring holds the identity" pair_fits keyring
check "it.keys unwritable: the file copy holds the identity" pair_fits file
check "it.keys unwritable: the two copies agree" copies_agree

done_testing
