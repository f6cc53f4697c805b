#!/bin/bash
# SPDX-License-Identifier: MIT
# crypto_hw.c against real parts (tests/helpers/hw-key, since no command makes hardware keys
# yet): a key made inside a SoftHSM2 token of this test's own and inside an swtpm reached
# directly and through tpm2-abrmd on a private D-Bus; the reference PEM kept, no PIN in it;
# the key signs through its provider (a CSR too) and its public half matches the hardware's; a
# wrong PIN, a missing module, another TPM and a TPM gone fail with exit 1 and leave nothing.
. "$(dirname "$0")/helpers.sh"
. "$(dirname "$0")/hw.sh"

: "${HW_KEY:?run through make check}"

# conf FILE LINES...: a configuration for hw-key (it reads no server; ca_root must be there).
conf() {
	local f=$1
	shift
	{
		echo "[est]"
		echo "server = localhost:1"
		echo "ca_root = $T/ca.pem"
		echo "subject = CN=hw"
		echo "keystore = it"
		printf '%s\n' "$@"
		echo "[keystore it]"
		echo "type = file"
		echo "path = $T/store"
	} >"$f"
}

# hw CONF ARGS...: runs the helper, stdout in $T/out, stderr in $T/err, status in RC.
hw() {
	"$HW_KEY" "$@" >"$T/out" 2>"$T/err"
	RC=$?
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" \
	-out "$T/ca.pem" -subj /CN=hw-test -days 1 >/dev/null 2>&1 ||
	skip_all "openssl cannot make a test certificate"

# tls_rounds WHAT CONF KEYPEM: a self-signed client certificate made with the hardware key, then
# one handshake each at TLS 1.2 and 1.3 against openssl s_server, which requires and verifies
# that certificate; the key on an SSL_CTX of OpenSSL's default context, as libcurl's.
tls_rounds() {
	local what=$1 conf=$2 key=$3 v port
	hw "$conf" cert "$key" "$T/client.pem"
	is "$what: a certificate signed by the hardware key" "$RC" 0
	for v in 2 3; do
		port=$("$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		openssl s_server -accept "$port" -cert "$T/ca.pem" -key "$T/ca.key" -naccept 1 \
			-Verify 1 -CAfile "$T/client.pem" -verify_return_error -quiet \
			>"$T/s_server.log" 2>&1 &
		SSERVER_PID=$!
		for _ in $(seq 100); do
			ss -Hltn "sport = :$port" | grep -q . && break
			sleep 0.1
		done
		hw "$conf" tls "$key" "$T/client.pem" "$port" "$v"
		is "$what: TLS 1.$v client authentication by the hardware key" "$RC:$(cat "$T/out")" \
			"0:TLSv1.$v"
		wait "$SSERVER_PID" 2>/dev/null
		SSERVER_PID=
		check "$what: TLS 1.$v: the server verified the client certificate" \
			grep -q "verify return:1" "$T/s_server.log"
	done
}

# ---- PKCS#11: a SoftHSM2 token in this test's directory ----
P11_N=32
if why=$(p11_missing "$HW_KEY"); then
	skip_part "$why" $P11_N
else
	p11_token "$T" 1234
	printf '1234\n' >"$T/pin"
	printf '9999\n' >"$T/badpin"
	chmod 600 "$T/pin" "$T/badpin"

	conf "$T/p11.conf" "key_storage = pkcs11:token=device" "pkcs11_module = $SOFTHSM" \
		"pkcs11_pin_file = $T/pin"
	hw "$T/p11.conf" keygen est-k1 "$T/k1.pem"
	is "PKCS#11: a key made in the token" "$RC" 0
	check "PKCS#11: the store would hold the provider's URI PEM" \
		grep -qx -- "-----BEGIN PKCS#11 PROVIDER URI-----" "$T/k1.pem"
	openssl base64 -d -in <(sed '1d;$d' "$T/k1.pem") >"$T/k1.der" 2>/dev/null
	check "PKCS#11: the reference names the token and the object" \
		grep -qa "token=device;.*object=est-k1" "$T/k1.der"
	check "PKCS#11: and holds no PIN" bash -c '! grep -qa -e 1234 -e pin- "$1"' _ "$T/k1.der"
	is "PKCS#11: private and public object in the token" "$(p11_objects est-k1)" 2
	cp "$T/out" "$T/k1.pub"
	"${P11[@]}" --read-object --type pubkey --label est-k1 -o "$T/tok.der" >/dev/null 2>&1
	openssl pkey -pubin -inform DER -in "$T/tok.der" -out "$T/tok.pub" 2>/dev/null
	check "PKCS#11: the key signed, and its public half is the token's" cmp "$T/tok.pub" "$T/k1.pub"
	check "PKCS#11: the token signed a CSR that verifies" \
		openssl req -inform DER -in "$T/k1.pem.csr" -verify -noout
	check "PKCS#11: for the token's key" \
		bash -c 'openssl req -inform DER -in "$1" -pubkey -noout | cmp - "$2"' _ \
		"$T/k1.pem.csr" "$T/tok.pub"
	hw "$T/p11.conf" use "$T/k1.pem"
	is "PKCS#11: the reference PEM finds the key again" "$RC" 0
	check "PKCS#11: the same key" cmp "$T/out" "$T/k1.pub"
	tls_rounds "PKCS#11" "$T/p11.conf" "$T/k1.pem"
	hw "$T/p11.conf" keygen est-keep "$T/keep.pem"
	hw "$T/p11.conf" destroy est-k1
	is "PKCS#11: destroying a key's objects (p11.c, with the provider loaded)" "$RC:$(cat "$T/out")" "0:2"
	check "PKCS#11: gone from the token, another key kept" \
		bash -c '[ "$1" = 0 ] && [ "$2" = 2 ]' _ "$(p11_objects est-k1)" "$(p11_objects est-keep)"
	hw "$T/p11.conf" use "$T/k1.pem"
	is "PKCS#11: the reference of a destroyed key finds nothing (exit 1)" "$RC" 1
	hw "$T/p11.conf" destroy est-k1
	is "PKCS#11: destroying what is not there destroys nothing" "$RC:$(cat "$T/out")" "0:0"

	conf "$T/bad.conf" "key_storage = pkcs11:token=device" "pkcs11_module = $SOFTHSM" \
		"pkcs11_pin_file = $T/badpin"
	hw "$T/bad.conf" keygen est-k2 "$T/k2.pem"
	is "PKCS#11: a wrong PIN fails with exit 1" "$RC" 1
	check "PKCS#11: nothing written, nothing made" \
		bash -c '[ ! -e "$1" ] && [ "$2" = 0 ]' _ "$T/k2.pem" "$(p11_objects est-k2)"
	hw "$T/bad.conf" destroy est-keep
	is "PKCS#11: a wrong PIN destroys nothing (exit 1)" "$RC:$(p11_objects est-keep)" "1:2"
	check "PKCS#11: and p11.c says the PIN was refused" grep -q "refused the PIN" "$T/err"
	conf "$T/none.conf" "key_storage = pkcs11:token=other" "pkcs11_module = $SOFTHSM" \
		"pkcs11_pin_file = $T/pin"
	hw "$T/none.conf" keygen est-k3 "$T/k3.pem"
	is "PKCS#11: a token that is not there fails with exit 1" "$RC" 1
	conf "$T/nomod.conf" "key_storage = pkcs11:token=device" \
		"pkcs11_module = $T/no-such-module.so"
	hw "$T/nomod.conf" keygen est-k4 "$T/k4.pem"
	is "PKCS#11: a missing module fails with exit 1" "$RC" 1
	check "PKCS#11: and is named" grep -q "pkcs11_module $T/no-such-module.so: No such file" \
		"$T/err"
	conf "$T/rsa.conf" "key_storage = pkcs11:token=device" "pkcs11_module = $SOFTHSM" \
		"pkcs11_pin_file = $T/pin" "key_algorithm = RSA"
	hw "$T/rsa.conf" keygen est-rsa "$T/rsa.pem"
	is "PKCS#11: an RSA key in the token signs" "$RC" 0
	tls_rounds "PKCS#11 RSA" "$T/rsa.conf" "$T/rsa.pem"
	unset SOFTHSM2_CONF
fi

# ---- TPM: an swtpm on free ports, directly and through tpm2-abrmd on a private D-Bus ----
TPM_N=22
if why=$(tpm_missing); then
	skip_part "$why" $TPM_N
else
	export TSS2_LOG=all+none # the TCTI loader's own trace is not what this test reads
	PORT_A=$(start_swtpm "$T/tpm-a")
	SWTPM_PIDS="$(cat "$T/tpm-a/pid")"
	start_abrmd "$PORT_A"
	conf "$T/tpm.conf" "key_storage = tpm" "tpm_tcti = tabrmd:bus_type=session,bus_name=$BUS_NAME"
	hw "$T/tpm.conf" keygen unused "$T/t1.pem"
	is "TPM: a key made in the TPM, through abrmd" "$RC" 0
	[ "$RC" = 0 ] || sed 's/^/#   abrmd: /' "$T/abrmd.log" | head -20
	check "TPM: the store would hold the TPM-wrapped key" \
		grep -qx -- "-----BEGIN TSS2 PRIVATE KEY-----" "$T/t1.pem"
	cp "$T/out" "$T/t1.pub"
	check "TPM: the TPM signed a CSR that verifies" \
		openssl req -inform DER -in "$T/t1.pem.csr" -verify -noout
	check "TPM: for the TPM's key" \
		bash -c 'openssl req -inform DER -in "$1" -pubkey -noout | cmp - "$2"' _ \
		"$T/t1.pem.csr" "$T/t1.pub"
	hw "$T/tpm.conf" use "$T/t1.pem"
	is "TPM: the wrapped key loads and signs again" "$RC" 0
	check "TPM: the same key" cmp "$T/out" "$T/t1.pub"
	tls_rounds "TPM" "$T/tpm.conf" "$T/t1.pem"
	# RSA: libssl signs with PSS (TLS 1.3, and 1.2 by preference) through the key method of
	# crypto_hw_tls.c's engine, which hands digest and padding to the TPM.
	conf "$T/rsa-rm.conf" "key_storage = tpm" "tpm_tcti = tabrmd:bus_type=session,bus_name=$BUS_NAME" \
		"key_algorithm = RSA"
	hw "$T/rsa-rm.conf" keygen unused "$T/trr.pem"
	tls_rounds "TPM RSA" "$T/rsa-rm.conf" "$T/trr.pem"
	conf "$T/direct.conf" "key_storage = tpm" "tpm_tcti = swtpm:port=$PORT_A"
	stop_abrmd
	hw "$T/direct.conf" use "$T/t1.pem"
	is "TPM: and directly, without abrmd" "$RC" 0
	conf "$T/rsa.conf" "key_storage = tpm" "tpm_tcti = swtpm:port=$PORT_A" "key_algorithm = RSA"
	hw "$T/rsa.conf" keygen unused "$T/tr.pem"
	is "TPM: an RSA key" "$RC" 0
	conf "$T/p384.conf" "key_storage = tpm" "tpm_tcti = swtpm:port=$PORT_A" "key_params = P-384"
	hw "$T/p384.conf" keygen unused "$T/t384.pem"
	check "TPM: a P-384 key, its CSR signed with SHA-384" \
		bash -c 'openssl req -inform DER -in "$1" -verify -noout -text | grep -q ecdsa-with-SHA384' \
		_ "$T/t384.pem.csr"

	PORT_B=$(start_swtpm "$T/tpm-b")
	SWTPM_PIDS="$SWTPM_PIDS $(cat "$T/tpm-b/pid")"
	conf "$T/other.conf" "key_storage = tpm" "tpm_tcti = swtpm:port=$PORT_B"
	hw "$T/other.conf" use "$T/t1.pem"
	is "TPM: another TPM refuses the blob (exit 1)" "$RC" 1
	check "TPM: and says so" grep -q "the TPM refused the stored key" "$T/err"
	stop_swtpm "$T/tpm-b"
	hw "$T/other.conf" keygen unused "$T/gone.pem"
	is "TPM: a TPM gone fails with exit 1" "$RC" 1
fi

done_testing
