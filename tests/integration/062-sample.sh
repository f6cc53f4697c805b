#!/bin/bash
# SPDX-License-Identifier: MIT
# The sample configuration as installed is inert: it validates, "run" exits 0 and says it is
# disabled, touching nothing; it names every setting; a second "make install" keeps an edited
# configuration.
. "$(dirname "$0")/helpers.sh"
. "$TESTS_SRCDIR/helpers/installed.sh"

install_destdir
SAMPLE="$INST$EST_SYSCONFDIR/est-enroll/est-enroll.conf"
check "the sample is installed as $EST_SYSCONFDIR/est-enroll/est-enroll.conf" test -f "$SAMPLE"
is "the sample is mode 644" "$(stat -c %a "$SAMPLE")" 644
check "the hooks directory is installed" test -d "$INST$EST_SYSCONFDIR/est-enroll/hooks.d"
check "no unsubstituted @...@ is left in the sample" bash -c "! grep -n '@[a-z_]*@' '$SAMPLE'"
check "the sample names the configured paths" grep -q "$EST_SYSCONFDIR/est-enroll/" "$SAMPLE"
check "enabled = false is set" grep -qx "enabled = false" "$SAMPLE"

"$EST_ENROLL" -c "$SAMPLE" check-config >"$T/config" 2>"$T/err"
is "check-config of the sample exits 0" "$?" 0
check "check-config shows enabled = false" grep -qx "enabled = false" "$T/config"

# The store the sample would use is the host's (keyring est:default, the default path):
# run must not come near it. Compare before and after.
before_kr=$(keyctl search @u keyring est:default 2>/dev/null)
before_dir=$(ls -d "$EST_LOCALSTATEDIR/lib/est-enroll/default" 2>/dev/null)
"$EST_ENROLL" -c "$SAMPLE" run >"$T/out" 2>"$T/err"
is "run with the sample exits 0" "$?" 0
check "and says it is disabled" grep -qi "disabled" "$T/err"
is "and created no keyring" "$(keyctl search @u keyring est:default 2>/dev/null)" "$before_kr"
is "and no store directory" "$(ls -d "$EST_LOCALSTATEDIR/lib/est-enroll/default" 2>/dev/null)" \
	"$before_dir"
"$EST_ENROLL" -c "$SAMPLE" >"$T/out" 2>"$T/err"
is "the default command with the sample exits 0 too" "$?" 0

# Every setting check-config prints appears in the sample, set or commented out.
for key in $(sed -n 's/^\([a-z_]*\) = .*/\1/p' "$T/config" | sort -u); do
	check "the sample documents '$key'" grep -q "^#\?$key =" "$SAMPLE"
done

# A reinstall over an edited configuration leaves it alone.
echo "; edited by the administrator" >>"$SAMPLE"
install_destdir
check "a second make install keeps the edited file" grep -q "edited by the administrator" "$SAMPLE"

done_testing
