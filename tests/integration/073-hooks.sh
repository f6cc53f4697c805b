#!/bin/bash
# SPDX-License-Identifier: MIT
# Hooks: after a pass changed the store, each executable of the hooks directory runs once, in name
# order, with the documented environment, after the lock is released; never on an idle pass;
# failing, killed and slow hooks change neither the store nor the exit code.
. "$(dirname "$0")/helpers.sh"

# A short limit for the sleeping hook (the real one is 60 s).
export EST_ENROLL_HOOK_TIMEOUT=2
H="$T/hooks.d"
mkdir -p "$H"

# hook NAME MODE BODY: a shell hook that first notes its name in $T/order.
hook() {
	printf '#!/bin/sh\necho %s >>"%s/order"\n%s\n' "$1" "$T" "$3" >"$H/$1"
	chmod "$2" "$H/$1"
}
hook 10-env 0755 "printf '%s|%s|%s|%s|%s\n' \"\$EST_ENROLL_EVENT\" \"\$EST_ENROLL_KEYSTORE\" \
\"\${EST_ENROLL_KEYRING-unset}\" \"\${EST_ENROLL_SERIALS-unset}\" \"\$EST_ENROLL_CONFIG\" >>'$T/env.log'
echo hook-stdout-marker"
hook 20-fail 0755 "exit 3"
hook 30-sleep 0755 "sleep 30 & echo \$! >'$T/sleep.pid'; wait"
# It takes the store's lock: it would hang (and be killed) if the pass still held it.
hook 40-last 0755 "'$EST_ENROLL' -c \"\$EST_ENROLL_CONFIG\" load >/dev/null 2>&1; echo \"load=\$?\" >>'$T/load.log'"
# Never run: editor backups, dpkg leftovers, hidden, not executable, a directory, unsafe.
hook 50-backup~ 0755 ""
hook 60-conf.dpkg-old 0755 ""
hook .hidden 0755 ""
hook 70-noexec 0644 ""
mkdir "$H/80-dir"
hook 90-world-writable 0757 ""

# gone PID: the process does not run (absent, or a zombie its new parent has yet to reap).
gone() { [ -n "$1" ] && { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }; }
order_runs() { tr '\n' ' ' <"$T/order" 2>/dev/null | sed 's/ $//'; }
env_lines() { [ -f "$T/env.log" ] && wc -l <"$T/env.log" | tr -d ' ' || echo 0; }

start_server --cert-days 10
write_config "hooks = $H" "expiration_check = 5d"
est run --once
is "enrollment with failing and slow hooks: exit 0" "$RC" 0
check "the pair is stored" both_same est-enrolled-key-pair
is "each hook ran once, in name order; nothing else ran" "$(order_runs)" "10-env 20-fail 30-sleep 40-last"
is "one run of the environment hook" "$(env_lines)" 1
is "the environment: event, keystore, keyring serial, serials file, config" \
	"$(tail -1 "$T/env.log")" "enrolled|it|$(keyring_id)|$RUNTIME_DIRECTORY/it.keys|$T/est.conf"
check "the serials file it names exists" test -s "$RUNTIME_DIRECTORY/it.keys"
is "a hook can take the store's lock: the pass released it" "$(cat "$T/load.log")" "load=0"
check "a failing hook is a warning" grep -q "warning: hook $H/20-fail: exit status 3" "$T/err"
check "a slow hook is killed at the limit" grep -q "warning: hook $H/30-sleep: still running after 2 s: killed" "$T/err"
check "its child is killed with it" wait_until 5 gone "$(cat "$T/sleep.pid" 2>/dev/null)"
check "an unsafe hook is refused with a warning" grep -q "hook $H/90-world-writable: not run" "$T/err"
check "a hook's stdout goes to stderr (the journal)" grep -q hook-stdout-marker "$T/err"
check "and not to stdout" bash -c "! grep -q hook-stdout-marker '$T/out'"

: >"$T/order"
n=$(requests_count)
est run --once
is "an idle pass: exit 0" "$RC" 0
is "an idle pass contacts nobody" "$(requests_count)" "$n"
is "an idle pass runs no hook" "$(order_runs)" ""

est renew --once
is "renewal: exit 0" "$RC" 0
is "renewal: the hooks ran once" "$(order_runs)" "10-env 20-fail 30-sleep 40-last"
is "renewal: EST_ENROLL_EVENT=renewed" "$(tail -1 "$T/env.log" | cut -d'|' -f1)" renewed
is "renewal: EST_ENROLL_KEYRING is the keyring now" "$(tail -1 "$T/env.log" | cut -d'|' -f3)" "$(keyring_id)"

# A CA refresh that brings the same set changes nothing: no hook.
: >"$T/order"
est cacerts --once
is "cacerts with the same CA set: exit 0" "$RC" 0
is "cacerts with the same CA set runs no hook" "$(order_runs)" ""

# A file store: no keyring, no serials file.
: >"$T/order"
rm -rf "$T/store"
KEYSTORE_EXTRA="type = file"
write_config "hooks = $H"
est run --once
is "file store enrollment: exit 0" "$RC" 0
is "file store: the environment has neither keyring nor serials" \
	"$(tail -1 "$T/env.log")" "enrolled|it|unset|unset|$T/est.conf"

# No hooks directory, or hooks = (empty): nothing runs, nothing fails.
: >"$T/order"
rm -rf "$T/store"
write_config "hooks = $T/no-such-dir"
est run --once
is "a missing hooks directory: exit 0" "$RC" 0
rm -rf "$T/store"
write_config "hooks ="
est run --once
is "hooks = (empty): exit 0" "$RC" 0
is "and no hook ran" "$(order_runs)" ""

write_config "hooks = relative/dir"
est check-config
is "a relative hooks directory is a config error (exit 2)" "$RC" 2
check "reported as FILE:LINE: hooks" grep -qF "$T/est.conf:9: hooks: must be an absolute path" "$T/err"

# A root key update does change the set.
: >"$T/order"
rm -rf "$T/store"
KEYSTORE_EXTRA=""
write_config "hooks = $H"
est run --once
is "a new store for the root key update: exit 0" "$RC" 0
: >"$T/order"
behaviour "rollover"
est cacerts --once
is "cacerts after a root key update: exit 0" "$RC" 0
is "the hooks ran once" "$(order_runs)" "10-env 20-fail 30-sleep 40-last"
is "EST_ENROLL_EVENT=cacerts" "$(tail -1 "$T/env.log" | cut -d'|' -f1)" cacerts

# A change committed by an est-enroll a hook started (a second renewal of the same kind): the
# outer command tells it in its next round, once; the two "renewed" lines are told apart by
# their ids, so neither is lost nor taken for the other.
H2="$T/hooks2.d"
mkdir -p "$H2"
printf '#!/bin/sh\necho "$EST_ENROLL_EVENT" >>"%s/events2"\n' "$T" >"$H2/10-note"
printf '#!/bin/sh\n[ -e "%s/inner-done" ] && exit 0\n: >"%s/inner-done"\n"%s" -c "$EST_ENROLL_CONFIG" renew --once >/dev/null 2>&1\n' \
	"$T" "$T" "$EST_ENROLL" >"$H2/20-renew-again"
chmod 0755 "$H2/10-note" "$H2/20-renew-again"
write_config "hooks = $H2"
rm -f "$T/events2" "$T/inner-done"
est renew --once
is "a renewal whose hook renews again: exit 0" "$RC" 0
is "the hooks heard of both renewals, once each" "$(tr '\n' ' ' <"$T/events2")" "renewed renewed "
check "est-events is empty afterwards" test ! -e "$T/store/est-events.pem"

# An export that fails keeps the change for the pass that writes it: the hooks wait for it.
rm -f "$T/events2"
: >"$T/inner-done"
write_config "hooks = $H2"
touch "$T/not-a-dir"
printf '\n[export broken]\ncert = %s/not-a-dir/cert.pem\n' "$T" >>"$T/est.conf"
est renew --once
is "a renewal whose export fails: exit 1" "$RC" 1
check "no hook ran yet" test ! -e "$T/events2"
check "the change waits in est-events" grep -q '^renewed ' "$T/store/est-events.pem"
rm -f "$T/not-a-dir"
est run --once
is "the next pass writes the export: exit 0" "$RC" 0
is "and the hooks hear of the renewal then" "$(tr '\n' ' ' <"$T/events2" 2>/dev/null)" "renewed "
check "est-events is empty afterwards" test ! -e "$T/store/est-events.pem"

done_testing
