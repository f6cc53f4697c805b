#!/bin/bash
# SPDX-License-Identifier: MIT
# Two passes at once: run exits 75 while another holds the lock; a forced command waits.
# The lock is an flock of the store directory itself, whatever the runtime directory.
. "$(dirname "$0")/helpers.sh"

start_server
write_config
mkdir -p -m 0700 "$T/store"
exec 9<"$T/store"
flock -x 9
est run
is "run with the lock held: exit 75" "$RC" 75
is "run with the lock held: no request" "$(requests_count)" 0

# A forced command waits for the lock, then runs.
"$EST_ENROLL" -c "$T/est.conf" enroll --once >"$T/out2" 2>"$T/err2" &
pid=$!
# Wait (bounded) until the kernel shows the pass blocked on our lock.
waiting=1
for _ in $(seq 1 100); do
	if grep -q -- "-> FLOCK .* $pid " /proc/locks; then waiting=0; break; fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
is "enroll blocks on the lock while it is held" "$waiting" 0
check "enroll has not finished meanwhile" kill -0 "$pid"
flock -u 9
exec 9>&-
wait "$pid"
is "enroll exits 0 once the lock is free" "$?" 0
check "the pair is stored" key_serial est-enrolled-key-pair

done_testing
