#!/bin/sh
# A POSIX sh worker that misbehaves as $MODE says (facts 1.3, 2.8, 2.9), else works.
# Modes whose name ends in "-once" misbehave on the first run only (a marker file
# in $MARKER_DIR, default the job home, remembers it), so the retry succeeds.
export LC_ALL=C
send() { printf '%s %d %s\n' "$1" "${#2}" "$2" >&2; }
recv() { IFS=' ' read -r R_NAME R_LEN R_PAYLOAD || exit 3; }
hello() { send WORKER "{\"version\":\"1.1\",\"pid\":$$}"; recv; }
task() { send TASK '""'; recv; TASK=$R_PAYLOAD; }

mode=${MODE:-ok}
case "$mode" in
*-once)
    marker="${MARKER_DIR:-.}/tried-$mode"
    if [ -e "$marker" ]; then mode=ok; else : > "$marker"; mode=${mode%-once}; fi ;;
esac

case "$mode" in
garbage) printf 'hello world, this is not a frame\n'; sleep 0.2; exit 1 ;;
garbage-stay) printf 'hello world, this is not a frame\n'; sleep 30; exit 1 ;;
badjson) hello; printf 'MSG 5 {bad}\n' >&2; sleep 30 ;;
unknown) hello; printf 'Hi 2 ""\n' >&2; sleep 30 ;;
badschema) send WORKER '""'; sleep 30 ;;
badversion) send WORKER "{\"version\":\"9.9\",\"pid\":$$}"; sleep 30 ;;
silent) sleep 30 ;;
pause) hello; sleep 2.5; task; send INPUT '""'; recv; send DONE '""' ;;
partial) hello; printf 'MSG 20 "half a mess' >&2; sleep 30 ;;
crash) hello; task; echo "dying now" >&2; exit 7 ;;
exit0) hello; task; exit 0 ;;
error) hello; task; send ERROR '"temporary trouble"'; sleep 30 ;;
fatal) hello; task; send FATAL '"kaput"'; sleep 30 ;;
flood) hello; i=0; while [ $i -lt 20 ]; do send MSG "\"line $i\""; recv; i=$((i + 1)); done; sleep 30 ;;
absolute) hello; task; send OUTPUT '[0,"/etc/passwd",100]'; recv; send DONE '""'; sleep 30 ;;
toobig) hello; printf 'MSG 999999999 "x"\n' >&2; sleep 0.2; exit 1 ;;
badbody) hello; printf 'MSG 2 ""X\n' >&2; exit 1 ;;
truncated) hello; printf 'MSG 50 "cut' >&2; exit 2 ;;
ping) hello; send PING '""'; recv; [ "$R_PAYLOAD" = '"pong"' ] || exit 9
      task; send DONE '""' ;;
inputerr) hello; task; send INPUT '""'; recv
      send INPUT_ERR '[0,[0]]'; recv; first="$R_NAME $R_PAYLOAD"
      send INPUT_ERR '[0,[0,1]]'; recv; second="$R_NAME $R_PAYLOAD"
      msg=$(printf '%s | %s' "$first" "$second" | sed 's/"/\\"/g')
      send MSG "\"$msg\""; recv; send DONE '""' ;;
include) hello; task; send INPUT '["include",[0,7]]'; recv
      msg=$(printf '%s' "$R_PAYLOAD" | sed 's/"/\\"/g'); send MSG "\"$msg\""; recv; send DONE '""' ;;
grandchild) hello; task; (sleep 300 & echo $! > "$PWD/grandchild.pid"; wait) & sleep 300 ;;
envdump) hello; task; env > "$PWD/env-dump.txt"; send INPUT '""'; recv; send DONE '""' ;;
hang) hello; task; echo $$ > "$PWD/hang.pid"; sleep 300 ;;
orphan) echo $$ > "$PWD/orphan.pid.tmp"; mv "$PWD/orphan.pid.tmp" "$PWD/orphan.pid"; exec sleep 300 ;;
showtask) hello; task; send MSG "\"$(printf '%s' "$TASK" | sed 's/"/\\"/g')\""; recv
      send INPUT '""'; recv; send DONE '""' ;;
firstonly) hello; task; if mkdir "$PWD/first-done" 2>/dev/null; then send INPUT '""'; recv
      send DONE '""'; else sleep 300; fi ;;
nice) hello; task; mine=$(cut -d' ' -f19 "/proc/$$/stat"); child=$(cut -d' ' -f19 /proc/self/stat)
      send MSG "\"nice $mine $child\""; recv; send INPUT '""'; recv; send DONE '""' ;;
ok) hello; task; send INPUT '""'; recv; send DONE '""' ;;
*) exit 99 ;;
esac
