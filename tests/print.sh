#!/bin/bash
# print.sh: the print path end to end: CUPS lp/lpstat/cancel -> blattd -> ippeveprinter / files.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init print

pdf="$BL_DOCS/document-a4.pdf"
npages=$(qpdf --show-npages "$pdf")
eve_pdf=$(bl_port)
eve_raster=$(bl_port)
eve_duplex=$(bl_port)
port=$(bl_port)

# A duplex colour device (-2, and a colour speed), to see the queue defaults reach it.
bl_start_eve pdfdev "$eve_pdf" application/pdf,image/pwg-raster,image/jpeg
ok $? "ippeveprinter (PDF, PWG, JPEG) runs on port $eve_pdf"
bl_start_eve rasterdev "$eve_raster" image/pwg-raster
ok $? "ippeveprinter (PWG raster only) runs on port $eve_raster"
bl_start_eve duplexdev "$eve_duplex" application/pdf -2 -s 10,5
ok $? "ippeveprinter (duplex, colour) runs on port $eve_duplex"

bl_conf "$W/blattd.conf" "$port"
mkdir -p "$W/out"
cat >>"$W/blattd.conf" <<EOF
<Printer pdfq>
  DeviceURI ipp://localhost:$eve_pdf/ipp/print
  Info PDF printer
</Printer>
<Printer rasterq>
  DeviceURI ipp://localhost:$eve_raster/ipp/print
</Printer>
<Printer duplexq>
  DeviceURI ipp://localhost:$eve_duplex/ipp/print
</Printer>
<Printer virt>
  DeviceURI file://$W/out
  Info Virtual PDF printer
</Printer>
<Printer virt2>
  DeviceURI file://$W/out
</Printer>
<Printer rasterfile>
  DeviceURI file://$W/out
  DocumentFormat image/pwg-raster
</Printer>
EOF
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd runs on port $port"
bl_wait_for 10 sh -c "grep -q 'printer rasterq: ' '$W/blattd.log' || ipptool -t ipp://127.0.0.1:$port/ipp/print/rasterq get-printer-attributes.test | grep -q image/pwg-raster"

# document-format-supported is what the format graph makes of each device's formats; queues
# with the same list share one copy of it, and each still reports its own.
formats()
{
    ipptool -tv "ipp://127.0.0.1:$port/ipp/print/$1" get-printer-attributes.test 2>/dev/null |
        sed -n 's/^ *document-format-supported (1setOf mimeMediaType) = //p'
}
f_pdfq=$(formats pdfq)
f_rasterq=$(formats rasterq)
f_virt=$(formats virt)
f_virt2=$(formats virt2)
f_rasterfile=$(formats rasterfile)
like "$f_pdfq" "image/jpeg" "the PDF/PWG/JPEG device's queue takes JPEG ($f_pdfq)"
like "$f_rasterq" "application/pdf" "the PWG-only device's queue takes PDF, through the filters"
like "$f_rasterfile" "application/pdf" "a file queue of PWG raster takes PDF ($f_rasterfile)"
is "$f_virt2" "$f_virt" "two file queues of PDF report the same formats ($f_virt)"
ok $([ -n "$f_virt" ] && [ "$f_virt" != "$f_rasterfile" ]; echo $?) \
    "a file queue of PWG raster reports its own list, not the PDF file queues'"

# lp to the PDF device: the PDF arrives with the same pages and the same rendering.
out=$(lp -h "127.0.0.1:$port" -d pdfq -t "Quarterly report" "$pdf" 2>&1)
like "$out" "request id is pdfq-[0-9]+" "lp -h prints to the PDF queue"
id=$(printf '%s' "$out" | sed -n 's/.*request id is pdfq-\([0-9]*\).*/\1/p')
bl_wait_job "$port" pdfq "$id" completed 30
ok $? "the job completes"
got=$(ls "$W"/eve-pdfdev/*.pdf 2>/dev/null | head -1)
ok $([ -n "$got" ]; echo $?) "ippeveprinter received a PDF ($got)"
is "$(bl_pages "$got")" "$npages" "the received PDF has $npages pages like the original"
gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=pnggray -r40 -sOutputFile="$W/orig-%d.png" "$pdf"
gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=pnggray -r40 -sOutputFile="$W/recv-%d.png" "$got"
same=0
for ((i = 1; i <= npages; i++)); do
    cmp -s "$W/orig-$i.png" "$W/recv-$i.png" && same=$((same + 1))
done
is "$same" "$npages" "every page renders exactly like the original"
state=$(ipptool -c -d job_id="$id" "ipp://127.0.0.1:$port/ipp/print/pdfq" \
    "$top_srcdir/tests/ipp/get-job-state.test" | tail -1)
is "$state" "completed,job-completed-successfully,$npages,$npages" \
    "job-impressions-completed and media sheets are counted ($state)"

# The raster-only device gets PWG raster with the right page count.
out=$(lp -h "127.0.0.1:$port" -d rasterq "$pdf" 2>&1)
id=$(printf '%s' "$out" | sed -n 's/.*request id is rasterq-\([0-9]*\).*/\1/p')
bl_wait_job "$port" rasterq "$id" completed 60
ok $? "the PDF job on the raster-only queue completes"
got=$(ls "$W"/eve-rasterdev/*.pwg 2>/dev/null | head -1)
ok $([ -n "$got" ]; echo $?) "ippeveprinter received PWG raster"
is "$(bl_pages "$got")" "$npages" "the raster has $npages pages"
out=$(lp -h "127.0.0.1:$port" -d rasterq "$BL_DOCS/color.jpg" 2>&1)
id=$(printf '%s' "$out" | sed -n 's/.*request id is rasterq-\([0-9]*\).*/\1/p')
bl_wait_job "$port" rasterq "$id" completed 60
ok $? "a JPEG on the raster-only queue completes"
got=$(ls -t "$W"/eve-rasterdev/*.pwg | head -1)
is "$(bl_pages "$got")" "1" "the JPEG arrives as one raster page"

# Queue defaults reach a duplex colour device: two-sided-long-edge and monochrome.
out=$(lp -h "127.0.0.1:$port" -d duplexq "$pdf" 2>&1)
id=$(printf '%s' "$out" | sed -n 's/.*request id is duplexq-\([0-9]*\).*/\1/p')
bl_wait_job "$port" duplexq "$id" completed 30
ok $? "the job on the duplex queue completes"
dev=$(ipptool -tv -d job_id=1 "ipp://localhost:$eve_duplex/ipp/print" "$top_srcdir/tests/ipp/get-job-template.test" 2>&1)
like "$dev" "sides \(keyword\) = two-sided-long-edge" "the device job is two-sided by default"
like "$dev" "print-color-mode \(keyword\) = monochrome" "the device job is monochrome by default"
state=$(ipptool -c -d job_id="$id" "ipp://127.0.0.1:$port/ipp/print/duplexq" \
    "$top_srcdir/tests/ipp/get-job-state.test" | tail -1)
is "${state##*,}" "$(((npages + 1) / 2))" "a duplex job counts half the sheets"
out=$(lp -h "127.0.0.1:$port" -d duplexq -o sides=one-sided -o print-color-mode=color "$pdf" 2>&1)
id=$(printf '%s' "$out" | sed -n 's/.*request id is duplexq-\([0-9]*\).*/\1/p')
bl_wait_job "$port" duplexq "$id" completed 30
dev=$(ipptool -tv -d job_id=2 "ipp://localhost:$eve_duplex/ipp/print" "$top_srcdir/tests/ipp/get-job-template.test" 2>&1)
like "$dev" "sides \(keyword\) = one-sided" "a user's sides=one-sided is honoured"
like "$dev" "print-color-mode \(keyword\) = color" "a user's colour choice is honoured"

# The virtual file printer writes the PDF into its directory.
out=$(lp -h "127.0.0.1:$port" -d virt "$pdf" 2>&1)
id=$(printf '%s' "$out" | sed -n 's/.*request id is virt-\([0-9]*\).*/\1/p')
bl_wait_job "$port" virt "$id" completed 30
ok $? "the virtual printer completes the job"
is "$(bl_pages "$W/out/job-$id.pdf")" "$npages" "job-$id.pdf is in the output directory"

# page-ranges select pages of a PDF.
out=$(lp -h "127.0.0.1:$port" -d virt -P 2-3 "$pdf" 2>&1)
id=$(printf '%s' "$out" | sed -n 's/.*request id is virt-\([0-9]*\).*/\1/p')
bl_wait_job "$port" virt "$id" completed 30
is "$(bl_pages "$W/out/job-$id.pdf")" 2 "page-ranges 2-3 prints two pages"

# lpstat and cancel work against blattd.
out=$(lpstat -h "127.0.0.1:$port" -p 2>&1)
like "$out" "printer pdfq is idle" "lpstat -p lists the PDF queue"
like "$out" "printer virt is idle" "lpstat -p lists the virtual queue"
out=$(lp -h "127.0.0.1:$port" -d virt -H indefinite "$pdf" 2>&1)
id=$(printf '%s' "$out" | sed -n 's/.*request id is virt-\([0-9]*\).*/\1/p')
out=$(lpstat -h "127.0.0.1:$port" -o virt 2>&1)
like "$out" "virt-$id " "lpstat -o shows the held job"
is "$(bl_job_state "$port" virt "$id")" "pending-held" "the job is held"
cancel -h "127.0.0.1:$port" "virt-$id"
ok $? "cancel -h cancels it"
bl_wait_job "$port" virt "$id" canceled 10
ok $? "the job is canceled"
[ ! -e "$W/out/job-$id.pdf" ]
ok $? "a canceled job is not printed"
out=$(lpstat -h "127.0.0.1:$port" -o virt 2>&1)
is "$out" "" "lpstat -o shows no unfinished jobs"
ls "$W/state/spool" | grep -q . && spool=1 || spool=0
is "$spool" 0 "every finished job's spool file is shredded"
is "$(sqlite3 "$W/state/blatt.db" "SELECT count(*) FROM documents")" 0 \
    "and no finished job's document is left in the database"
bl_done
