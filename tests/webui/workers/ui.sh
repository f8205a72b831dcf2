#!/bin/sh
# A worker for the status page's tests, in POSIX sh. Environment (job envs):
#   SAY        a JSON string literal sent as a MSG first (for escaping tests);
#   FAIL_ONCE  "stage:id" whose first run sends ERROR (a marker file in MARKER_DIR, default the
#              job home, remembers it), so it is retried;
#   FATAL      a JSON string literal sent as FATAL (the job dies);
#   RELEASE    a file to wait for (after a MSG saying so) before finishing: a job that stays running;
#   PAUSE      seconds to sleep before finishing (for docs/screenshots.py: bars with a length).
# Each task writes one small output; every stage is `split`, so each output makes one next task.
export LC_ALL=C
send() { printf '%s %d %s\n' "$1" "${#2}" "$2" >&2; }
recv() { IFS=' ' read -r R_NAME R_LEN R_PAYLOAD || exit 3; }
send WORKER "{\"version\":\"1.1\",\"pid\":$$}"; recv
send TASK '""'; recv; TASK=$R_PAYLOAD
stage=$(printf '%s' "$TASK" | sed -n 's/.*"stage":"\([^"]*\)".*/\1/p')
taskid=$(printf '%s' "$TASK" | sed -n 's/.*"taskid":\([0-9]*\).*/\1/p')
if [ -n "${SAY:-}" ]; then send MSG "$SAY"; recv; fi
if [ -n "${FATAL:-}" ]; then send FATAL "$FATAL"; exec sleep 60; fi
marker="${MARKER_DIR:-.}/failed-$stage-$taskid"
if [ "${FAIL_ONCE:-}" = "$stage:$taskid" ] && [ ! -e "$marker" ]; then
    : > "$marker"
    send ERROR '"failing once on purpose"'
    exec sleep 60
fi
if [ -n "${RELEASE:-}" ]; then
    send MSG '"waiting for the release file"'; recv
    while [ ! -e "$RELEASE" ]; do sleep 0.05; done
fi
if [ -n "${PAUSE:-}" ]; then sleep "$PAUSE"; fi
send INPUT '""'; recv
mkdir -p out
printf '%s %s\n' "$stage" "$taskid" > "out/$stage-$taskid"
send OUTPUT "[0,\"out/$stage-$taskid\",$(wc -c < "out/$stage-$taskid" | tr -d ' ')]"; recv
send DONE '""'
