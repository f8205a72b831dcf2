#!/bin/sh
# A POSIX sh worker that reports what the master told it, for grouping tests.
# Stage "first" (or "map"): each input raw://L1,L2,... makes one local output per label Li;
# an http:// or disco:// input is read over HTTP (curl) and copied into output 0.
# Any other stage: reads every dir:// input over HTTP (http://<host>:<disco_port>/...),
# then writes one output labelled with its group label.
# Each task sends: MSG "probe <stage>:<id> host=<h> group=<g> labels=<l,...> fetched=<n>".
export LC_ALL=C
send() { printf '%s %d %s\n' "$1" "${#2}" "$2" >&2; }
recv() { IFS=' ' read -r R_NAME R_LEN R_PAYLOAD || exit 3; }
field() { printf '%s' "$TASK" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

send WORKER "{\"version\":\"1.1\",\"pid\":$$}"; recv
send TASK '""'; recv; TASK=$R_PAYLOAD
stage=$(field stage); host=$(field host)
taskid=$(printf '%s' "$TASK" | sed -n 's/.*"taskid":\([0-9]*\).*/\1/p')
# SECOND_STARTED=<file>: a task of any stage but "first" creates it on starting.
if [ -n "$SECOND_STARTED" ] && [ "$stage" != first ]; then : > "$SECOND_STARTED"; fi
port=$(printf '%s' "$TASK" | sed -n 's/.*"disco_port":\([0-9]*\).*/\1/p')
group=$(printf '%s' "$TASK" | sed -n 's/.*"group":\(\[[^]]*\]\).*/\1/p')
glabel=$(printf '%s' "$group" | sed -n 's/^\[\([0-9]*\),.*/\1/p')

labels=""; urls=""; seen=""; flag=more
while [ "$flag" != done ]; do
    send INPUT "[\"exclude\",[$seen]]"; recv
    flag=$(printf '%s' "$R_PAYLOAD" | sed -n 's/^\["\([a-z]*\)".*/\1/p')
    for id in $(printf '%s' "$R_PAYLOAD" | grep -o '\[[0-9]*,"ok"' | tr -dc '0-9\n'); do
        seen="${seen:+$seen,}$id"
    done
    for l in $(printf '%s' "$R_PAYLOAD" | grep -o ',"ok",[^,]*' | sed 's/,"ok",//' | tr -d '"'); do
        labels="${labels:+$labels,}$l"
    done
    urls="$urls $(printf '%s' "$R_PAYLOAD" | grep -o '"[a-z]*://[^"]*"' | tr -d '"')"
done

out="$stage-$taskid"; mkdir -p "$out"
fetched=0
if [ "$stage" = first ] || [ "$stage" = map ]; then
    for url in $urls; do
        case "$url" in
        http://* | disco://*)  # copied into output 0; a read that fails is a task error
            from=$url
            case "$url" in disco://*) rest=${url#disco://}; from="http://${rest%%/*}:$port/${rest#*/}" ;; esac
            curl -sf "$from" >> "$out/out-0" || { send ERROR "\"cannot read $url\""; exit 1; }
            fetched=$((fetched + 1)) ;;
        *)
            for l in $(printf '%s' "${url#raw://}" | tr ',' ' '); do
                echo "$taskid $host" >> "$out/out-$l"
            done ;;
        esac
    done
    for f in "$out"/out-*; do
        [ -e "$f" ] || continue
        send OUTPUT "[${f##*out-},\"$f\",$(wc -c < "$f" | tr -d ' ')]"; recv
    done
else
    for url in $urls; do
        case "$url" in
        dir://*)
            rest=${url#dir://}; h=${rest%%/*}; path=${rest#*/}
            n=$(curl -sf "http://$h:$port/$path" | wc -c) || n=0
            fetched=$((fetched + n)) ;;
        esac
    done
    echo "$stage $taskid $host" > "$out/out"
    send OUTPUT "[${glabel:-0},\"$out/out\",$(wc -c < "$out/out" | tr -d ' ')]"; recv
fi
qgroup=$(printf '%s' "$group" | sed 's/"/\\"/g')
send MSG "\"probe $stage:$taskid host=$host group=$qgroup labels=$labels fetched=$fetched\""; recv
if [ -n "$SLEEP" ]; then sleep "$SLEEP"; fi
# Waits driven by events, each bounded (60 s) so a scheduling bug fails the test, not hangs it.
wait_until() { i=0; while ! eval "$1" && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done; }
# RENDEZVOUS=<dir> RENDEZVOUS_N=<n>: each task waits until n tasks have started.
if [ -n "$RENDEZVOUS" ]; then
    : > "$RENDEZVOUS/$stage-$taskid"
    wait_until '[ "$(ls "$RENDEZVOUS" | wc -l)" -ge "$RENDEZVOUS_N" ]'
fi
# With SECOND_STARTED, "first" tasks but task 0 end only once a later stage has started.
if [ -n "$SECOND_STARTED" ] && [ "$stage" = first ] && [ "$taskid" != 0 ]; then
    wait_until '[ -e "$SECOND_STARTED" ]'
fi
if [ -n "$STAGGER" ] && [ "$stage" = first ]; then sleep "$(awk "BEGIN { print $taskid * $STAGGER }")"; fi
send DONE '""'
