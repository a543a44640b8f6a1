#!/bin/bash
# config.sh: `blattd -t` accepts the shipped and a full config and names file:line of errors.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init config

# The shipped file (everything at its default), pointed at this build's programs and data.
cp "$top_srcdir/etc/blattd.conf" "$W/shipped.conf"
printf 'DataDir %s/etc\nFilterDir %s/drivers/filter\nBackendDir %s/drivers/backend\nHelperDir %s/drivers\n' \
    "$top_srcdir" "$top_builddir" "$top_builddir" "$top_builddir" >>"$W/shipped.conf"
out=$("$BLATTD" -t -c "$W/shipped.conf" 2>&1)
ok $? "the shipped blattd.conf is valid"
like "$out" "configuration OK \(0 printers\)" "blattd -t reports the printer count"
out=$("$BLATTD" -t -c "$top_srcdir/etc/blattd.conf" 2>&1)
like "$out" "formats.conf: No such file or directory \(see DataDir\)" \
    "blattd -t notices a missing format graph"

cat >"$W/good.conf" <<EOC
Listen 127.0.0.1:8631
StateDir $W/state
<Printer a>
  DeviceURI ipp://127.0.0.1:9/ipp/print
  ReleaseMode hold
</Printer>
<Printer b>
  DeviceURI file://$W/out
</Printer>
EOC
cat "$W/shipped.conf" >>"$W/good.conf"
mkdir -p "$W/out"
out=$("$BLATTD" -t -c "$W/good.conf" 2>&1)
ok $? "a config with two queues is valid"
like "$out" "\(2 printers\)" "two printers counted"

printf 'LogLevel info\n<Printer x>\n  DeviceURI ipp://h/\n  Colour yes\n</Printer>\n' >"$W/bad.conf"
out=$("$BLATTD" -t -c "$W/bad.conf" 2>&1)
is "$?" "1" "an unknown directive fails the check"
is "$out" "blattd: $W/bad.conf:4: unknown directive \"Colour\"" "the error names file:line"
rmdir "$W/out"
out=$("$BLATTD" -t -c "$W/good.conf" 2>&1)
like "$out" "printer b: $W/out is not a writable directory" "a missing output directory is found"
printf '<Printer x>\n DeviceURI file:relative\n</Printer>\n' >"$W/rel.conf"
out=$("$BLATTD" -t -c "$W/rel.conf" 2>&1)
like "$out" "rel.conf:2: a file DeviceURI must be file:///absolute/directory" \
    "a relative file URI is explained"
printf '<Printer x>\n DeviceURI ipp://h/\n DefaultMedia a4\n</Printer>\n' >"$W/media.conf"
out=$("$BLATTD" -t -c "$W/media.conf" 2>&1)
like "$out" "media.conf:3: DefaultMedia: \"a4\" is not a PWG media name" "a bad media name is refused"
out=$("$BLATTD" -t -c "$W/missing.conf" 2>&1)
like "$out" "missing.conf: No such file or directory" "a missing file is reported"
"$BLATTD" -h | grep -q -- "-t       check the configuration and exit"
ok $? "blattd -h shows the flags"
"$BLATTD" -x >/dev/null 2>&1
is "$?" "2" "an unknown flag exits 2"
bl_done
