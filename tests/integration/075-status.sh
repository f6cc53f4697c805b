#!/bin/bash
# SPDX-License-Identifier: MIT
# status --json (schema 1) after a real enrollment, parsed with python3, each field checked
# against openssl and keyctl: certificates, keys, where each alias is stored, agreement, the
# pending request and its not-before time, the next action; the same for a file store.
. "$(dirname "$0")/helpers.sh"

# facts COPY ALIAS: what openssl says of the first certificate of ALIAS, as JSON.
facts() {
	local pem="$T/facts.pem"
	copy_pipe "$1" "$2" >"$pem"
	"$PYTHON3" - "$pem" <<'EOPY'
import json, subprocess, sys
def ossl(*a):
    return subprocess.run(["openssl", "x509", "-in", sys.argv[1], "-noout", *a],
                          capture_output=True, text=True, check=True).stdout.strip()
out = {
    "subject": ossl("-subject", "-nameopt", "RFC2253").split("=", 1)[1],
    "issuer": ossl("-issuer", "-nameopt", "RFC2253").split("=", 1)[1],
    "serial": ossl("-serial").split("=", 1)[1],
    "sha256": ossl("-fingerprint", "-sha256").split("=", 1)[1].replace(":", "").lower(),
    "not_before": ossl("-startdate").split("=", 1)[1],
    "not_after": ossl("-enddate").split("=", 1)[1],
}
print(json.dumps(out))
EOPY
}

# check_json DESCRIPTION PYTHON-EXPRESSIONS...: each expression is true of the status JSON (d),
# with the facts f (by alias), the environment (env) and the current time (now) at hand.
check_json() {
	local desc=$1
	shift
	if "$PYTHON3" - "$T/out" "$T/facts.json" "$@" >"$T/pyout" 2>&1 <<'EOPY'; then
import calendar, json, os, sys, time
d = json.load(open(sys.argv[1]))
f = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else {}
env = os.environ
now = time.time()
def iso(t):  # "2026-01-02T03:04:05Z" -> epoch
    return calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))
def gmt(t):  # openssl's "Jan  2 03:04:05 2026 GMT" -> epoch
    return calendar.timegm(time.strptime(t, "%b %d %H:%M:%S %Y %Z"))
def alias(a):
    return [x for x in d["aliases"] if x["alias"] == a][0]
def same_cert(c, a):
    o = f[a]
    return (c["subject"] == o["subject"] and c["issuer"] == o["issuer"] and
            c["serial"] == o["serial"] and c["sha256"] == o["sha256"] and
            iso(c["not_before"]) == gmt(o["not_before"]) and
            iso(c["not_after"]) == gmt(o["not_after"]) and
            abs(c["days_left"] - (gmt(o["not_after"]) - now) // 86400) <= 1)
for e in sys.argv[3:]:
    if not eval(e):
        print("false:", e)
        sys.exit(1)
EOPY
		tap_result 0 "$desc"
	else
		tap_result 1 "$desc"
		sed 's/^/#   /' "$T/pyout"
	fi
}

# gather_facts COPY ALIAS...: $T/facts.json with the openssl facts of each alias.
gather_facts() {
	local copy=$1 a
	shift
	{
		echo "{"
		for a in "$@"; do
			echo "\"$a\": $(facts "$copy" "$a"),"
		done
		echo '"": {}}'
	} >"$T/facts.json"
}

start_server --intermediate --enroll-chain
write_config
est run --once
is "enrolled: exit 0" "$RC" 0
est import extra-ca "$SRV/root.pem"
is "an extra alias imported: exit 0" "$RC" 0
gather_facts keyring est-cacerts_0 est-cacerts_1 est-enrolled-key-pair extra-ca
export KEYRING RUNTIME_DIRECTORY T PORT
export KR_ID=$(keyring_id)
for a in est-cacerts_0 est-cacerts_1 est-enrolled-key-pair est-state extra-ca; do
	export "SERIAL_${a//[-]/_}=$(key_serial "$a")"
done

est status --json
is "status --json: exit 0" "$RC" 0
check_json "schema 1, keystore, backend" 'd["schema"] == 1' 'd["keystore"] == "it"' \
	'd["backend"] == "keyring"'
check_json "keyring name, serial, location, serials file, path" \
	'd["keyring"] == env["KEYRING"]' 'd["keyring_serial"] == int(env["KR_ID"])' \
	'd["location"] == "keyring %s (serial %s)" % (env["KEYRING"], env["KR_ID"])' \
	'd["serials_file"] == env["RUNTIME_DIRECTORY"] + "/it.keys"' 'd["path"] == env["T"] + "/store"'
check_json "the copies agree" 'd["fell_back"] is False' 'd["consistent"] is True' 'd["disagree"] == []'
check_json "server, label, bootstrap" 'd["server"] == "localhost:" + env["PORT"]' 'd["label"] == ""' \
	'd["bootstrapped_from"] == d["server"]' 'abs(iso(d["bootstrapped_at"]) - now) < 120'
check_json "two CA certificates, in order" 'len(d["cacerts"]) == 2' \
	'[c["alias"] for c in d["cacerts"]] == ["est-cacerts_0", "est-cacerts_1"]'
check_json "each CA certificate as openssl reads it" \
	'all(same_cert(c, c["alias"]) for c in d["cacerts"])'
check_json "each CA certificate: key type, size, curve" \
	'all(c["key_type"] == "EC" and c["key_bits"] == 256 and c["key_curve"] == "prime256v1" for c in d["cacerts"])'
check_json "each CA certificate: its keyring key, its file, agreement" \
	'all(c["keyring_serial"] == int(env["SERIAL_" + c["alias"].replace("-", "_")]) for c in d["cacerts"])' \
	'all(c["file"] == env["T"] + "/store/" + c["alias"] + ".pem" for c in d["cacerts"])' \
	'all(c["agrees"] is True for c in d["cacerts"])'
c='d["certificate"]'
check_json "the certificate as openssl reads it" "$c[\"alias\"] == \"est-enrolled-key-pair\"" \
	"same_cert($c, \"est-enrolled-key-pair\")" "$c[\"subject\"] == \"CN=gw-0042,O=Example,C=IT\""
check_json "the pair's key: EC, 256 bits, prime256v1" "$c[\"key_type\"] == \"EC\"" \
	"$c[\"key_bits\"] == 256" "$c[\"key_curve\"] == \"prime256v1\""
check_json "the pair: stored in the keyring and the file copy, agreeing" \
	"$c[\"keyring_serial\"] == int(env[\"SERIAL_est_enrolled_key_pair\"])" \
	"$c[\"file\"] == env[\"T\"] + \"/store/est-enrolled-key-pair.pem\"" "$c[\"agrees\"] is True"
check_json "no pending request" 'd["pending_request"] is False' 'd["request"] is None'
check_json "next: renew 30 days before the end" 'd["next_action"] == "renew"' \
	"iso(d[\"next_due\"]) == iso($c[\"not_after\"]) - 30 * 86400"
check_json "every alias, sorted, with its kind" \
	'[a["alias"] for a in d["aliases"]] == ["est-cacerts_0", "est-cacerts_1", "est-enrolled-key-pair", "est-state", "extra-ca"]' \
	'[a["kind"] for a in d["aliases"]] == ["cacert", "cacert", "enrolled", "state", "other"]'
check_json "every alias: its keyring serial and file" \
	'all(a["keyring_serial"] == int(env["SERIAL_" + a["alias"].replace("-", "_")]) for a in d["aliases"])' \
	'all(a["file"] == env["T"] + "/store/" + a["alias"] + ".pem" and a["agrees"] is True for a in d["aliases"])'
check_json "an alias of others with a certificate shows it" 'same_cert(alias("extra-ca")["certificate"], "extra-ca")' \
	'alias("est-state")["certificate"] is None'
check_json "the bundle's certificate is the pair's" \
	'alias("est-enrolled-key-pair")["certificate"]["sha256"] == d["certificate"]["sha256"]'

est status
is "status (text): exit 0" "$RC" 0
check "text: the certificate" grep -q "^certificate: *CN=gw-0042,O=Example,C=IT" "$T/out"
check "text: days left" grep -qE "^  valid: .* \([0-9]+ days left\)" "$T/out"
check "text: key type and size" grep -q "^  key: *EC 256 bits (prime256v1)" "$T/out"
check "text: where the pair is stored" grep -q "^  stored: *keyring key $(key_serial est-enrolled-key-pair), $T/store/est-enrolled-key-pair.pem (keyring and file copy agree)" "$T/out"
check "text: the serials file" grep -q "^serials: *$RUNTIME_DIRECTORY/it.keys" "$T/out"
check "text: the other aliases" grep -q "^  extra-ca: CN=EST Test Root CA" "$T/out"

# The keyring disagrees with the file copy on one alias.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/o.key" \
	-out "$T/o.pem" -subj "/CN=Other CA" -days 30 2>/dev/null
keyctl pupdate "$(key_serial est-cacerts_1)" <"$T/o.pem"
est status --json
check_json "a disagreement: consistent false, the alias named" 'd["consistent"] is False' \
	'd["disagree"] == ["est-cacerts_1"]' 'alias("est-cacerts_1")["agrees"] is False' \
	'd["cacerts"][1]["agrees"] is False' 'alias("est-cacerts_0")["agrees"] is True'
est status
check "text: the disagreeing copies" grep -q "est-cacerts_1.pem (keyring and file copy DISAGREE)" "$T/out"
est load

# A renewal answered 202: next is the renewal, not before the server's Retry-After.
behaviour "simplereenroll-202 1 60"
write_config "expiration_check = 365d"
est run --once
is "a renewal answered 202 (Retry-After 60): exit 75" "$RC" 75
export NB=$(sed -n '1s/.*not_before=\([0-9]*\).*/\1/p' "$T/store/est-request-key-pair.pem")
est status --json
check_json "a pending renewal: for renew, next renew at its not-before time" \
	'd["pending_request"] is True' 'd["request"]["for"] == "renew"' \
	'd["next_action"] == "renew"' 'iso(d["next_due"]) == int(env["NB"])' \
	'iso(d["request"]["not_before"]) == int(env["NB"])' 'd["certificate"] is not None'
write_config

# A pending request with the server's Retry-After.
keyctl clear "$(keyring_id)"
rm -rf "$T/store"
behaviour "202 1 60"
est run --once
is "a request answered 202 (Retry-After 60): exit 75" "$RC" 75
nb=$(sed -n '1s/.*not_before=\([0-9]*\).*/\1/p' "$T/store/est-request-key-pair.pem")
check "the request key records not_before" test -n "$nb"
export NB=$nb
est status --json
check_json "the pending request: for, server, label, key, not_before" \
	'd["pending_request"] is True' 'd["request"]["for"] == "enroll"' \
	'd["request"]["server"] == d["server"]' 'd["request"]["label"] == ""' \
	'd["request"]["key"] == "EC:prime256v1"' 'iso(d["request"]["not_before"]) == int(env["NB"])' \
	'd["request"]["resumable"] is True' 'alias("est-request-key-pair")["kind"] == "request"'
check_json "next: bootstrap and resume it, not before the server said" \
	'd["next_action"] == "bootstrap"' 'iso(d["next_due"]) == int(env["NB"])' \
	'd["certificate"] is None' 'd["cacerts"] == []'
est status
check "text: the pending request and its not-before time" \
	grep -q "^pending request: yes, for enroll at localhost:$PORT (key EC:prime256v1), not before" "$T/out"
behaviour ""

# A file store: no keyring anywhere, agreement not applicable.
rm -rf "$T/store"
KEYSTORE_EXTRA="type = file"
write_config "key_algorithm = RSA" "key_params = 3072"
est run --once
is "a file store with an RSA key: exit 0" "$RC" 0
gather_facts file est-enrolled-key-pair
est status --json
check_json "file store: backend, no keyring, no serials file" 'd["backend"] == "file"' \
	'd["keyring"] is None' 'd["keyring_serial"] is None' 'd["serials_file"] is None' \
	'd["location"] == "directory " + env["T"] + "/store"'
check_json "file store: the RSA pair: RSA, 3072 bits, no curve" \
	'same_cert(d["certificate"], "est-enrolled-key-pair")' 'd["certificate"]["key_type"] == "RSA"' \
	'd["certificate"]["key_bits"] == 3072' 'd["certificate"]["key_curve"] is None'
check_json "file store: each alias in its file, no keyring key, agreement null" \
	'all(a["keyring_serial"] is None and a["agrees"] is None for a in d["aliases"])' \
	'all(a["file"] == env["T"] + "/store/" + a["alias"] + ".pem" for a in d["aliases"])' \
	'd["consistent"] is True'

done_testing
