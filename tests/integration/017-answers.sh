#!/bin/bash
# SPDX-License-Identifier: MIT
# Answers of servers other than the default: hostile strings reach the log escaped, Retry-After
# in all three HTTP-date forms, /serverkeygen multipart variants.
. "$(dirname "$0")/helpers.sh"

start_server
write_config "retry_interval = 1s" "retry_timeout = 20s"
est run --once
is "baseline enrollment: exit 0" "$RC" 0
leaf=$(leaf_fp file)
bundle=$(file_pipe est-enrolled-key-pair | sha256sum)

# unchanged WHAT: the stored identity is the baseline one, in both copies
unchanged() {
	is "$1: the file copy holds the same bundle" "$(file_pipe est-enrolled-key-pair | sha256sum)" "$bundle"
	check "$1: the keyring holds the same bundle" both_same est-enrolled-key-pair
	check "$1: the copies agree" copies_agree
}

# clean WHAT: stderr holds no raw control byte, and no line longer than the cap allows
clean() {
	check "$1: no control byte reached the log" bash -c "! LC_ALL=C grep -q '[[:cntrl:]]' <(tr -d '\n' <'$T/err')"
	check "$1: lines are capped" bash -c "[ \$(awk '{ if (length > m) m = length } END { print m + 0 }' '$T/err') -lt 1200 ]"
}

sent=$(requests_to simpleenroll)
behaviour "hostile 400"
est enroll --once
is "hostile 400: exit 1" "$RC" 1
is "hostile 400: the request was sent once" "$(requests_to simpleenroll)" $((sent + 1))
check "hostile 400: the server's words are logged, escaped" grep -qF '\x1b[2J\x1b[31mERROR\x00' "$T/err"
check "hostile 400: and cut short" grep -q 'AAAA\.\.\.' "$T/err"
clean "hostile 400"
unchanged "hostile 400"

sent=$(requests_to simpleenroll)
behaviour "hostile 200"
est enroll --once
is "hostile Content-Type: exit 1" "$RC" 1
is "hostile Content-Type: the request was sent once" "$(requests_to simpleenroll)" $((sent + 1))
check "hostile Content-Type: logged escaped" grep -qF "note=\x1b[31mred\x1b[0m\x7f\xe9'" "$T/err"
clean "hostile Content-Type"
unchanged "hostile Content-Type"

sent=$(requests_to simpleenroll)
behaviour "hostile 503"
est enroll --once
is "hostile 503: exit 75" "$RC" 75
is "hostile 503: the request was sent once" "$(requests_to simpleenroll)" $((sent + 1))
check "hostile 503: the unparsable Retry-After is logged escaped" \
	grep -qF "Retry-After '\x1b]0;pwned\x07 soon'" "$T/err"
clean "hostile 503"
unchanged "hostile 503"

# A 202 whose Retry-After is a date 3 s ahead: the pass waits for it (2-3 s, not the 1 s
# retry_interval), then is answered.
for form in date rfc850 asctime; do
	behaviour "202$form 1 3"
	sent=$(requests_to simpleenroll)
	est enroll
	is "Retry-After in $form form: exit 0" "$RC" 0
	check "Retry-After in $form form: the pass waited as asked" grep -Eq 'retrying in [2-4]\.[0-9]s' "$T/err"
	check "Retry-After in $form form: nothing unparsable" bash -c "! grep -q 'unparsable' '$T/err'"
	is "Retry-After in $form form: sent twice" "$(requests_to simpleenroll)" $((sent + 2))
	check "Retry-After in $form form: the new pair is stored in both copies" \
		test "$(leaf_fp file)" != "$leaf" -a "$(leaf_fp keyring)" = "$(leaf_fp file)"
	leaf=$(leaf_fp file)
done
behaviour ""

write_config "key_source = server"
for kind in lf tricky; do
	behaviour "serverkeygen-multipart-$kind"
	est enroll --once
	is "serverkeygen multipart-$kind: exit 0" "$RC" 0
	is "serverkeygen multipart-$kind: /serverkeygen answered it" \
		"$(request_field "$(requests_count)" path)" "/.well-known/est/serverkeygen"
	check "serverkeygen multipart-$kind: the stored key fits the certificate" pair_fits keyring
	check "serverkeygen multipart-$kind: the copies agree" copies_agree
done

done_testing
