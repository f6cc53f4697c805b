#!/bin/bash
# SPDX-License-Identifier: MIT
# Metrics: metrics = FILE is rewritten atomically (mode 0644, no tmp file left) after every pass,
# forced command and load, and the real node_exporter's textfile collector reads it without
# error: certificate and CA expiry as stored, the renewal time, the pass's exit code, the last
# success kept across failed passes, the failures counted and reset; a run that found the lock
# held leaves the file alone; a file that cannot be written is a warning, never an exit code.
. "$(dirname "$0")/helpers.sh"

EXPORTER=$(command -v prometheus-node-exporter) ||
	skip_all "prometheus-node-exporter is not installed (tests/deps.list)"

EXPORTER_PID=
stop_exporter() {
	if [ -n "$EXPORTER_PID" ]; then
		kill "$EXPORTER_PID" 2>/dev/null
		wait "$EXPORTER_PID" 2>/dev/null
		EXPORTER_PID=
	fi
}
trap 'stop_exporter; cleanup' EXIT

D="$T/prom"
M="$D/est-enroll.prom"
mkdir -p "$D"

# free_port: a port nothing listens on now (the exporter is retried if it was taken meanwhile).
free_port() {
	"$PYTHON3" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# start_exporter: node_exporter with the textfile collector alone on $D; waits (bounded) until
# it answers. Sets EXPORTER_PID and EPORT.
start_exporter() {
	local try
	for try in 1 2 3 4 5; do
		EPORT=$(free_port)
		"$EXPORTER" --collector.disable-defaults --collector.textfile \
			--collector.textfile.directory="$D" --web.listen-address="127.0.0.1:$EPORT" \
			>"$T/exporter.log" 2>&1 &
		EXPORTER_PID=$!
		wait_until 10 scrape_or_gone && scrape && return 0
		stop_exporter
	done
	sed 's/^/# /' "$T/exporter.log"
	echo "Bail out! node_exporter did not start"
	exit 1
}
scrape_or_gone() { scrape || ! kill -0 "$EXPORTER_PID" 2>/dev/null; }

# scrape: the exporter's page into $T/scrape; the collector reads the file at each scrape.
scrape() {
	curl -sf --max-time 5 "http://127.0.0.1:$EPORT/metrics" >"$T/scrape"
}

# value NAME [LABELS]: a sample of the last scrape as an integer ("" when absent). The exporter
# sorts the labels and prints values as floats (1.7672256e+09).
value() {
	awk -v s="$1{${2:-keystore=\"it\"}}" '$1 == s { printf "%.0f\n", $2 }' "$T/scrape"
}

# not_after FILE: notAfter of the first certificate of a PEM file, in seconds since the epoch.
not_after() {
	date -d "$(openssl x509 -noout -enddate -in "$1" | cut -d= -f2)" +%s
}

# tmp_files: what the atomic replacement would leave behind in $D.
tmp_files() { find "$D" -name '*.tmp.*' | wc -l | tr -d ' '; }

start_server --intermediate --cert-days 10
write_config "metrics = $M" "expiration_check = 5d"

est check-config
is "check-config: exit 0" "$RC" 0
check "check-config prints metrics = FILE" grep -qxF "metrics = $M" "$T/out"

before=$(date +%s)
est run --once
after=$(date +%s)
is "first enrollment with metrics: exit 0" "$RC" 0
check "the metrics file is written" test -s "$M"
is "it is mode 0644" "$(stat -c %a "$M")" 644
is "no tmp file is left" "$(tmp_files)" 0
check "nothing secret in it" bash -c "! grep -q -e BEGIN -e PRIVATE -e gw-0042 '$M'"
is "no duplicate series" "$(grep -v '^#' "$M" | awk '{ print $1 }' | sort | uniq -d)" ""
is "one TYPE line a metric, each a gauge" \
	"$(grep -c '^# TYPE .* gauge$' "$M")" "$(grep -v '^#' "$M" | sed 's/{.*//' | sort -u | wc -l)"
check "every series carries keystore=\"it\"" \
	bash -c "! grep -v '^#' '$M' | grep -qv '{keystore=\"it\"[,}]'"

start_exporter
check "node_exporter reads it without error: node_textfile_scrape_error 0" grep -qx 'node_textfile_scrape_error 0' "$T/scrape"
check "node_exporter names the file" grep -qF "node_textfile_mtime_seconds{file=\"$M\"}" "$T/scrape"

expiry=$(not_after "$T/store/est-enrolled-key-pair.pem")
is "expiration: the stored certificate's notAfter" \
	"$(value est_enroll_certificate_expiration_timestamp_seconds)" "$expiry"
is "renewal: expiration_check (5d) before notAfter" \
	"$(value est_enroll_certificate_renewal_timestamp_seconds)" "$((expiry - 5 * 86400))"
renewal=$(value est_enroll_certificate_renewal_timestamp_seconds)
check "renewal is after now and before the expiry" \
	test "$renewal" -gt "$after" -a "$renewal" -lt "$expiry"
n=$(anchor_count file)
is "two CA certificates stored (intermediate and root)" "$n" 2
is "one CA series each" "$(grep -c '^est_enroll_ca_certificate_expiration_timestamp_seconds{' "$T/scrape")" "$n"
for i in $(seq 0 $((n - 1))); do
	is "CA expiration of est-cacerts_$i: its notAfter" \
		"$(value est_enroll_ca_certificate_expiration_timestamp_seconds \
			"alias=\"est-cacerts_$i\",keystore=\"it\"")" \
		"$(not_after "$T/store/est-cacerts_$i.pem")"
done
last=$(value est_enroll_last_pass_timestamp_seconds)
check "last pass: the time of the pass" test "$last" -ge "$before" -a "$last" -le "$after"
is "last pass exit code 0" "$(value est_enroll_last_pass_exit_code)" 0
is "last success: that pass" "$(value est_enroll_last_success_timestamp_seconds)" "$last"
is "no failure" "$(value est_enroll_consecutive_failures)" 0
is "no pending request" "$(value est_enroll_pending_request)" 0

# Failed passes: the server is gone. The last success stays, the failures count.
success=$last
stop_server
sleep 1 # a second apart, so the new pass's time differs
for k in 1 2; do
	est renew --once
	is "renew without a server ($k): exit 75" "$RC" 75
	scrape
	is "failed pass $k: exit code 75" "$(value est_enroll_last_pass_exit_code)" 75
	is "failed pass $k: consecutive failures $k" "$(value est_enroll_consecutive_failures)" "$k"
	is "failed pass $k: last success kept" \
		"$(value est_enroll_last_success_timestamp_seconds)" "$success"
	check "failed pass $k: last pass later than the last success" \
		test "$(value est_enroll_last_pass_timestamp_seconds)" -gt "$success"
	is "failed pass $k: the certificate's expiration still there" \
		"$(value est_enroll_certificate_expiration_timestamp_seconds)" "$expiry"
done
check "scrape error still 0" grep -qx 'node_textfile_scrape_error 0' "$T/scrape"

# A run that found the store's lock held (75) is no failed pass: the holder writes when done.
cp "$M" "$T/before-lock"
hold_store_lock
est run --once
is "run with the lock held: exit 75" "$RC" 75
release_store_lock
check "and the metrics file is left as it was" cmp -s "$M" "$T/before-lock"

# A success resets the count.
start_server --intermediate --cert-days 10 --port "$PORT"
est renew --once
is "renew with the server back: exit 0" "$RC" 0
scrape
is "success: exit code 0" "$(value est_enroll_last_pass_exit_code)" 0
is "success: consecutive failures reset to 0" "$(value est_enroll_consecutive_failures)" 0
new=$(value est_enroll_last_success_timestamp_seconds)
check "success: the last success is this pass" \
	test "$new" -gt "$success" -a "$new" = "$(value est_enroll_last_pass_timestamp_seconds)"
is "the renewed certificate's expiration" \
	"$(value est_enroll_certificate_expiration_timestamp_seconds)" \
	"$(not_after "$T/store/est-enrolled-key-pair.pem")"

# An idle pass writes it too.
sleep 1
est run --once
is "idle pass: exit 0" "$RC" 0
scrape
check "idle pass: the last pass is this one" \
	test "$(value est_enroll_last_pass_timestamp_seconds)" -gt "$new"

# load: what the store holds read again, the passes' series carried over unchanged.
pass_series() { grep '^est_enroll_last\|^est_enroll_consecutive' "$M"; }
rm -f "$M"
est load
is "load without a metrics file: exit 0" "$RC" 0
check "load writes the file" test -s "$M"
is "with the certificate's expiration" \
	"$(grep -c '^est_enroll_certificate_expiration_timestamp_seconds{keystore="it"} ' "$M")" 1
is "and no pass series: none is known" "$(pass_series | wc -l | tr -d ' ')" 0
est run --once
pass_series >"$T/passes-before"
sleep 1 # a load a second later must not look like a pass
est load
is "load after a pass: exit 0" "$RC" 0
is "load keeps the pass series as the pass wrote them" "$(pass_series)" "$(cat "$T/passes-before")"
is "four of them" "$(pass_series | wc -l | tr -d ' ')" 4
is "mode 0644 after load" "$(stat -c %a "$M")" 644
is "no tmp file after load" "$(tmp_files)" 0

# A pending request (202): 1 while the server holds it.
behaviour "202 1 600"
est enroll --once
is "enroll answered 202: exit 75" "$RC" 75
scrape
is "pending request: 1" "$(value est_enroll_pending_request)" 1
is "and the pass failed (75)" "$(value est_enroll_last_pass_exit_code)" 75
behaviour ""
est enroll --once
is "enroll once the server issues: exit 0" "$RC" 0
scrape
is "pending request: 0 again" "$(value est_enroll_pending_request)" 0
is "consecutive failures 0 again" "$(value est_enroll_consecutive_failures)" 0

# A pass that fails before it starts (ca_root unreadable: 2) is a failed pass too.
cp "$SRV/root.pem" "$T/root.pem"
write_config "metrics = $M" "expiration_check = 5d" "ca_root = $T/root.pem"
rm "$T/root.pem"
est run --once
is "run with ca_root missing: exit 2" "$RC" 2
scrape
is "its exit code 2 is recorded" "$(value est_enroll_last_pass_exit_code)" 2
is "a failure counted" "$(value est_enroll_consecutive_failures)" 1
check "scrape error 0 after it" grep -qx 'node_textfile_scrape_error 0' "$T/scrape"

# A garbled file: what it carried is unknown, counted afresh; the collector reads the new one.
write_config "metrics = $M" "expiration_check = 5d"
printf 'est_enroll_consecutive_failures{keystore="it"} many\n\001garbage\n' >"$M"
est run --once
is "idle pass over a garbled file: exit 0" "$RC" 0
scrape
check "node_textfile_scrape_error 0 again" grep -qx 'node_textfile_scrape_error 0' "$T/scrape"
is "failures counted afresh" "$(value est_enroll_consecutive_failures)" 0
printf 'est_enroll_consecutive_failures{keystore="it"} many\n' >"$M"
stop_server
est renew --once
is "failed pass over a garbled file: exit 75" "$RC" 75
scrape
is "its failure is the first" "$(value est_enroll_consecutive_failures)" 1
is "and no last success is made up" "$(value est_enroll_last_success_timestamp_seconds)" ""

# Another keystore's series in the file (two configurations sharing it): replaced, said so.
sed 's/keystore="it"/keystore="other"/' "$M" >"$M.new" && mv "$M.new" "$M"
est renew --once
is "a pass over another keystore's file: exit 75" "$RC" 75
check "a warning says the file is shared" grep -q "warning: metrics: $M held series of another keystore" "$T/err"
is "only this keystore's series are left" "$(grep -c 'keystore="other"' "$M")" 0
is "counted from its own (none): 1" \
	"$(sed -n 's/^est_enroll_consecutive_failures{keystore="it"} //p' "$M")" 1
start_server --intermediate --cert-days 10 --port "$PORT"

# A file that cannot be written: a warning, the exit code is the pass's.
write_config "metrics = $T/no-such-dir/est-enroll.prom" "expiration_check = 5d"
est run --once
is "idle pass with an unwritable metrics file: exit 0" "$RC" 0
check "a warning names the file" grep -q "warning: metrics: cannot write $T/no-such-dir/est-enroll.prom" "$T/err"
stop_server
est renew --once
is "failed pass with an unwritable metrics file: still 75" "$RC" 75

# Configuration errors, reported as FILE:LINE: metrics.
write_config "metrics = est-enroll.prom"
est check-config
is "a relative metrics path: exit 2" "$RC" 2
check "reported as FILE:LINE: metrics" grep -qF "$T/est.conf:9: metrics: must be an absolute path" "$T/err"

stop_exporter
done_testing
