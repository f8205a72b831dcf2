#!/bin/sh
# A Disco worker in POSIX sh with standard tools only; nothing to do with pydisco.
# Word count: stage "map" (split over raw:// inputs) writes one file per label
# (NPART labels, by first letter); stage "reduce" (group_label) reads the map
# results indexes from the local disk and writes "word<TAB>count" lines.
# Frames go to stderr; replies come on stdin, one line each.
export LC_ALL=C
NPART=${NPART:-2}

send() {
    printf '%s %d %s\n' "$1" "${#2}" "$2" >&2
}
recv() {
    IFS=' ' read -r R_NAME R_LEN R_PAYLOAD || exit 3
}
field() {
    printf '%s' "$TASK" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"
}

send WORKER "{\"version\":\"1.1\",\"pid\":$$}"
recv
send TASK '""'
recv
TASK=$R_PAYLOAD
stage=$(field stage)
data=$(field disco_data)
taskid=$(printf '%s' "$TASK" | sed -n 's/.*"taskid":\([0-9]*\).*/\1/p')
glabel=$(printf '%s' "$TASK" | sed -n 's/.*"group":\[\([0-9]*\),.*/\1/p')

# Ask for inputs until the master says the set is done (concurrent stages say "more").
urls=""
seen=""
flag=more
while [ "$flag" != done ]; do
    send INPUT "[\"exclude\",[$seen]]"
    recv
    flag=$(printf '%s' "$R_PAYLOAD" | sed -n 's/^\["\([a-z]*\)".*/\1/p')
    for id in $(printf '%s' "$R_PAYLOAD" | grep -o '\[[0-9]*,"ok"' | tr -dc '0-9\n'); do
        seen="${seen:+$seen,}$id"
    done
    urls="$urls $(printf '%s' "$R_PAYLOAD" | grep -o '"[a-z]*://[^"]*"' | tr -d '"')"
done
send MSG "\"sh worker $stage:$taskid got $(printf "%s\n" "$seen" | tr , "\n" | grep -c .) inputs\""
recv

out="$stage-$taskid"
mkdir -p "$out"
if [ "$stage" = map ]; then
    for url in $urls; do
        printf '%s\n' "${url#raw://}"
    done | awk -v n="$NPART" -v dir="$out" '{
        for (i = 1; i <= NF; i++) {
            l = index("abcdefghijklmnopqrstuvwxyz", tolower(substr($i, 1, 1))) % n
            print $i > (dir "/part-" l)
        }
    }'
    for f in "$out"/part-*; do
        [ -e "$f" ] || continue
        label=${f##*part-}
        send OUTPUT "[$label,\"$f\",$(wc -c < "$f" | tr -d ' ')]"
        recv
    done
else
    for url in $urls; do
        index="$data/${url#dir://*/disco/}"
        awk -v l="$glabel" '$1 == l { print $2 }' "$index"
    done | while read -r part; do
        cat "$data/${part#disco://*/disco/}"
    done | sort | uniq -c | awk '{ printf "%s\t%s\n", $2, $1 }' > "$out/counts"
    send OUTPUT "[$glabel,\"$out/counts\",$(wc -c < "$out/counts" | tr -d ' ')]"
    recv
fi
send DONE '""'
exit 0
