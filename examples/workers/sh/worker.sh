#!/bin/sh
# A Disco worker (protocol 1.1) in POSIX sh and standard tools (awk, sed, cat, wc,
# curl), written from protocol-spec/README.md alone.
#
# What it does: copies every input of its task into local output files, one
# per label (the input's label, 0 for "all"), and declares each with OUTPUT
# once it is complete; one MSG at the end.
# It reads raw://, http(s)://, disco://, dir:// (with label filtering) and
# local files, falls back over replicas, and answers INPUT_ERR replies.
#
# Frames go to stderr, replies come on stdin. Every child process that could
# print (curl, cat, mv) has its stderr sent to /dev/null: anything that is not
# a frame on stdout or stderr breaks the protocol stream.
#
# A reply is read as one line: a master writes JSON with every newline inside
# strings escaped, so the frame's LF is the first raw newline; the length field
# is still checked, and a payload with raw newlines is read line by line until
# it has its full length.
export LC_ALL=C # ${#x} counts bytes, awk and printf work on bytes
TAB=$(printf '\t')

exec 3<&0 # the master's replies; loops below redirect stdin

send() { # NAME PAYLOAD (the payload is JSON already)
    printf '%s %d %s\n' "$1" "${#2}" "$2" >&2
}

recv() { # sets R_NAME, R_PAYLOAD; exits when the master closes stdin
    IFS= read -r R_LINE <&3 || exit 3
    R_NAME=${R_LINE%% *}
    R_REST=${R_LINE#* }
    R_LEN=${R_REST%% *}
    R_PAYLOAD=${R_REST#* }
    while [ "${#R_PAYLOAD}" -lt "$R_LEN" ]; do
        IFS= read -r R_LINE <&3 || exit 3
        R_PAYLOAD="$R_PAYLOAD
$R_LINE"
    done
}

request() { # NAME PAYLOAD; waits for the reply
    send "$1" "$2"
    recv
}

# A JSON walker for the two replies that carry replicas.
#   mode=input:  [flag, [[id, status, label, [[rid, url], ...]], ...]]
#     prints one line per input: id TAB label {TAB rid TAB bytes TAB url}...
#     and "flag TAB id,id,..." into the file named by meta.
#   mode=retry:  [[rid, url], ...]   (one line, with the id and label given)
# URLs are printed decoded for printf %b: JSON escapes become \n, \\ and
# \0ooo octal bytes (UTF-8), and "bytes" is the decoded length in bytes.
WALK='
function hexval(h,   i, v) {
    v = 0
    for (i = 1; i <= 4; i++) v = v * 16 + index("0123456789abcdef", tolower(substr(h, i, 1))) - 1
    return v
}
function byte(v) { nb++; return sprintf("\\0%03o", v) }
function utf8(cp) {
    if (cp < 128) return byte(cp)
    if (cp < 2048) return byte(192 + int(cp / 64)) byte(128 + cp % 64)
    if (cp < 65536) return byte(224 + int(cp / 4096)) byte(128 + int(cp / 64) % 64) byte(128 + cp % 64)
    return byte(240 + int(cp / 262144)) byte(128 + int(cp / 4096) % 64) byte(128 + int(cp / 64) % 64) byte(128 + cp % 64)
}
function decode(s,   out, i, n, c, e, cp, lo) {
    out = ""; nb = 0; n = length(s)
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (c != "\\") { out = out c; nb++; continue }
        e = substr(s, ++i, 1)
        if (e == "n") { out = out "\\n"; nb++ }
        else if (e == "t") { out = out "\\t"; nb++ }
        else if (e == "r") { out = out "\\r"; nb++ }
        else if (e == "b") { out = out "\\b"; nb++ }
        else if (e == "f") { out = out "\\f"; nb++ }
        else if (e == "\\") { out = out "\\\\"; nb++ }
        else if (e == "u") {
            cp = hexval(substr(s, i + 1, 4)); i += 4
            if (cp >= 55296 && cp < 56320 && substr(s, i + 1, 2) == "\\u") {
                lo = hexval(substr(s, i + 3, 4)); i += 6
                cp = 65536 + (cp - 55296) * 1024 + (lo - 56320)
            }
            out = out utf8(cp)
        } else { out = out e; nb++ }
    }
    return out
}
function got(tok, str) {
    if (mode == "input") {
        if (depth == 1 && idx[1] == 0) flag = tok
        else if (depth == 3 && idx[3] == 0) { id = tok; line = tok; ids = ids (ids == "" ? "" : ",") tok }
        else if (depth == 3 && idx[3] == 2) line = line "\t" tok
        else if (depth == 5 && idx[5] == 0) rid = tok
        else if (depth == 5 && idx[5] == 1) { u = decode(tok); line = line "\t" rid "\t" nb "\t" u }
    } else {
        if (depth == 2 && idx[2] == 0) rid = tok
        else if (depth == 2 && idx[2] == 1) { u = decode(tok); line = line "\t" rid "\t" nb "\t" u }
    }
}
BEGIN { RS = "\001"; if (mode == "retry") line = id "\t" label }
{
    s = $0; n = length(s); depth = 0
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (c == "[") { idx[++depth] = 0; continue }
        if (c == "]") { if (mode == "input" && depth == 3) print line; depth--; continue }
        if (c == ",") { idx[depth]++; continue }
        if (c == "\"") {
            for (j = i + 1; j <= n; j++) {
                d = substr(s, j, 1)
                if (d == "\\") j++
                else if (d == "\"") break
            }
            got(substr(s, i + 1, j - i - 1), 1); i = j; continue
        }
        if (c ~ /[-0-9]/) {
            for (j = i; j <= n && substr(s, j, 1) ~ /[-0-9.eE+]/; j++) ;
            got(substr(s, i, j - i), 0); i = j - 1
        }
    }
}
END { if (mode == "input") print flag "\t" ids > meta; else print line }
'

field() { # KEY: a string or integer field of the TASK reply
    printf '%s' "$TASK" | sed -n -e "s/.*\"$1\": *\"\\([^\"]*\\)\".*/\\1/p" \
        -e "t" -e "s/.*\"$1\": *\\([0-9][0-9]*\\).*/\\1/p"
}

fetch() { # URL (decoded): its data on stdout; fails when it cannot be read
    case $1 in
    raw://*) printf '%b' "${1#raw://}" ;;
    http://* | https://*) curl -fsSL --max-time 30 "$1" 2>/dev/null ;;
    disco://* | dir://*)
        f_rest=${1#*://}
        f_host=${f_rest%%/*}
        f_path=${f_rest#*/}
        f_host=${f_host#*@}
        if [ "${f_host%%:*}" = "$T_host" ]; then
            f_first=${f_path%%/*}
            if [ "$f_first" = ddfs ]; then
                cat "$T_ddfs/${f_path#*/}" 2>/dev/null
            else
                cat "$T_data/${f_path#*/}" 2>/dev/null
            fi
        else
            curl -fsSL --max-time 30 "http://${f_host%%:*}:$T_port/$f_path" 2>/dev/null
        fi
        ;;
    file://*) cat "${1#file://}" 2>/dev/null ;;
    *://*) return 1 ;;
    *) cat "$1" 2>/dev/null ;;
    esac
}

read_replica() { # URL LABEL DEST: the input's data into DEST
    case $1 in
    dir://*)
        fetch "$1" >"$W/index" || return 1
        : >"$3"
        while read -r r_label r_url r_size; do
            [ -n "$r_url" ] || continue
            if [ "$2" = all ] || [ "$r_label" = "$2" ]; then
                fetch "$r_url" >>"$3" || return 1
            fi
        done <"$W/index"
        ;;
    *) fetch "$1" >"$3" || return 1 ;;
    esac
}

process() { # ID LABEL REPLICAS (TAB-separated rid, bytes, url triples)
    p_id=$1
    p_label=$2
    p_reps=$3
    p_failed=""
    [ "$p_label" = all ] && p_out=0 || p_out=$p_label
    dest="$outdir/label-$p_out"
    case " $labels " in
    *" $p_out "*) ;;
    *) labels="$labels $p_out" ;;
    esac
    while :; do
        set -f
        IFS=$TAB
        # shellcheck disable=SC2086
        set -- $p_reps
        unset IFS
        set +f
        [ $# -ge 3 ] || return 0 # no replicas: nothing to read
        while [ $# -ge 3 ]; do
            p_rid=$1 p_url=$3
            shift 3
            case $p_url in
            raw://*)
                printf '%b' "${p_url#raw://}" >>"$dest"
                return 0
                ;;
            esac
            if read_replica "$p_url" "$p_label" "$W/part"; then
                cat "$W/part" >>"$dest"
                return 0
            fi
            p_failed="$p_failed${p_failed:+,}$p_rid"
        done
        # Every replica failed: ask the master (a Disco 0.5.4 master ends the task here).
        request INPUT_ERR "[$p_id,[$p_failed]]"
        case $R_NAME in
        RETRY)
            p_reps=$(printf '%s' "$R_PAYLOAD" | awk -v mode=retry -v id="$p_id" -v label="$p_label" "$WALK")
            p_reps=${p_reps#*"$TAB"}
            p_reps=${p_reps#*"$TAB"}
            ;;
        WAIT) sleep "$R_PAYLOAD" ;;
        *)
            send ERROR "\"input $p_id: no replica can be read\""
            exit 1
            ;;
        esac
    done
}

request WORKER "{\"version\":\"1.1\",\"pid\":$$}"
request TASK '""'
TASK=$R_PAYLOAD
T_host=$(field host)
T_data=$(field disco_data)
T_ddfs=$(field ddfs_data)
T_port=$(field disco_port)
T_stage=$(field stage)
T_taskid=$(field taskid)

outdir="out/$T_stage-$T_taskid-$$"
W="$outdir.work"
mkdir -p "$outdir" "$W" || {
    send ERROR "\"cannot create $outdir\""
    exit 1
}
labels=""
seen=""
while :; do
    request INPUT "[\"exclude\",[$seen]]"
    printf '%s' "$R_PAYLOAD" | awk -v mode=input -v meta="$W/meta" "$WALK" >"$W/list"
    IFS=$TAB read -r flag ids <"$W/meta"
    [ -n "$ids" ] && seen="$seen${seen:+,}$ids"
    while IFS=$TAB read -r id label reps; do
        process "$id" "$label" "$reps"
    done <"$W/list"
    [ "$flag" = done ] && break
done
rm -rf "$W" 2>/dev/null
# One output per label, declared once its file is complete.
count=0
for label in $labels; do
    size=$(wc -c <"$outdir/label-$label")
    request OUTPUT "[$label,\"$outdir/label-$label\",$((size))]"
    count=$((count + 1))
done
request MSG "\"sh worker: $count outputs\""
send DONE '""'
