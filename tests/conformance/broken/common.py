"""A small, correct Disco worker in plain Python (no pydisco), with one flaw switched on.

Each ``<flaw>.py`` beside this file calls :func:`main` with its flaw's name;
``main(None)`` is the correct worker the flaws are measured against. It
implements the kit's reference behaviour: copy every input's data into a
local output, send one MSG, then DONE.
"""

import json
import os
import sys
import time

FLAW = None


def send(name, payload):
    body = json.dumps(payload, ensure_ascii=False)
    data = body.encode("utf-8")
    length = len(body) if FLAW == "wrong_length" else len(data)
    frame = name.encode() + b" " + str(length).encode() + b" " + data + b"\n"
    os.write(2, frame)


class Replies:
    def __init__(self):
        self.buffer = b""

    def _fill(self):
        chunk = os.read(0, 65536)
        while not chunk and FLAW == "ignores_eof":
            time.sleep(0.05)
            chunk = os.read(0, 65536)
        if not chunk:
            sys.exit(3)
        self.buffer += chunk

    def read(self):
        while self.buffer.count(b" ") < 2:
            self._fill()
        name, length, rest = self.buffer.split(b" ", 2)
        length = int(length)
        while len(rest) < length + 1:
            self._fill()
            name, _, rest = self.buffer.split(b" ", 2)
        payload, self.buffer = rest[:length], rest[length + 1 :]
        return name.decode(), json.loads(payload)


REPLIES = Replies()


def request(name, payload):
    send(name, payload)
    return REPLIES.read()


class ReplicaFailed(Exception):
    pass


def fetch(url, task):
    scheme, _, rest = url.partition("://")
    if scheme == "raw":
        if FLAW == "percent_decodes":
            import urllib.parse

            rest = urllib.parse.unquote(rest)
        return rest.encode("utf-8")
    if scheme in ("http", "https"):
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError as exc:
            raise ReplicaFailed(str(exc)) from None
    if scheme in ("disco", "dir"):
        host, _, path = rest.partition("/")
        if host.split(":")[0] == task["host"]:
            first, _, tail = path.partition("/")
            base = task["ddfs_data"] if first == "ddfs" else task["disco_data"]
            try:
                with open(os.path.join(base, tail), "rb") as f:
                    return f.read()
            except OSError as exc:
                raise ReplicaFailed(str(exc)) from None
        return fetch("http://{}:{}/{}".format(host, task["disco_port"], path), task)
    if scheme == "file" or not _:
        try:
            with open(rest if _ else url, "rb") as f:
                return f.read()
        except OSError as exc:
            raise ReplicaFailed(str(exc)) from None
    raise ReplicaFailed("unsupported scheme " + scheme)


def read_input(url, label, task):
    if FLAW == "dir_all_as_label0" and label == "all":
        label = 0
    data = fetch(url, task)
    if not url.startswith("dir://"):
        return data
    parts = []
    for line in data.decode().splitlines():
        if not line.strip():
            continue
        line_label, line_url = line.split()[:2]
        if label == "all" or int(line_label) == label or FLAW == "reads_every_dir_line":
            parts.append(fetch(line_url, task))
    return b"".join(parts)


def read_replicas(entry, task):
    input_id, _status, label, replicas = entry
    failed = []
    while True:
        for replica_id, url in replicas:
            try:
                return read_input(url, label, task)
            except ReplicaFailed:
                failed.append(replica_id)
                if FLAW == "input_err_first":
                    break
        if FLAW == "bad_input_err":
            failed.append(99)
        if FLAW == "fatal_missing_replica":
            send("FATAL", f"input {input_id}: no replica can be read")
            sys.exit(1)
        name, payload = request("INPUT_ERR", [input_id, sorted(set(failed))])
        if name == "RETRY":
            replicas = payload
            continue
        if name == "WAIT":
            time.sleep(payload)
            continue
        send("ERROR", f"input {input_id}: no replica can be read")
        sys.exit(1)


SKIPS = {"skips_raw": "raw://", "skips_http": "http://", "skips_disco": "disco://"}


def _skipped(flaw, entry, count):
    """Whether a flawed worker silently leaves this input out."""
    if flaw == "stops_at_1000":
        return count > 1000
    prefix = SKIPS.get(flaw)
    return prefix is not None and entry[3][0][1].startswith(prefix)


def main(flaw=None):
    global FLAW
    FLAW = flaw
    if flaw == "task_before_worker":
        send("TASK", "")
        send("WORKER", {"version": "1.1", "pid": os.getpid()})
        _, task = REPLIES.read()
        REPLIES.read()
    else:
        if flaw != "no_worker":
            version = "1.0" if flaw == "wrong_version" else "1.1"
            pid = 1 if flaw == "wrong_pid" else os.getpid()
            request("WORKER", {"version": version, "pid": pid})
        if flaw == "input_before_task":
            request("INPUT", ["exclude", []])
        _, task = request("TASK", "")
    if flaw == "stray_stdout":
        os.write(1, b"debug: got my task\n")
    outdir = "out/{}-{}-{}".format(task["stage"], task["taskid"], os.getpid())
    if flaw == "colon_path":
        outdir = "{}:{}-{}".format(task["stage"], task["taskid"], os.getpid())
    elif flaw == "dot_disco":
        outdir = ".disco/{}-{}".format(task["taskid"], os.getpid())
    os.makedirs(outdir)
    seen = []
    files = {}
    while True:
        exclude = [] if flaw == "reprocesses" else seen
        _, (flag, entries) = request("INPUT", ["exclude", exclude])
        for entry in entries:
            seen.append(entry[0])
            if not entry[3] or _skipped(flaw, entry, len(seen)):
                continue
            data = read_replicas(entry, task)
            label = 0 if entry[2] == "all" else entry[2]
            if flaw == "floods_msg":
                for line in data.splitlines():
                    request("MSG", line.decode("utf-8", "replace"))
            path = f"{outdir}/label-{label}"
            files[label] = path
            with open(path, "ab") as f:
                f.write(data)
                if flaw == "garbage_output":
                    f.write(b"not from any input\n")
        if flag == "done" or flaw == "ignores_more":
            break
        if flaw == "reprocesses":
            time.sleep(0.05)
    for label, path in sorted(files.items()):
        size = os.path.getsize(path) + (1 if flaw == "wrong_size" else 0)
        location = os.path.abspath(path) if flaw == "absolute_output" else path
        shown_label = -1 if flaw == "negative_label" else label
        shown_size = str(size) if flaw == "bad_payload" else size
        request("OUTPUT", [shown_label, location, shown_size])
    if flaw == "missing_output":
        request("OUTPUT", [0, outdir + "/summary", 10])
    if flaw == "ping":
        request("PING", "")
    if flaw == "crash":
        sys.exit(0)
    if flaw == "pipelines":
        # MSG and DONE in one write: DONE is sent before the MSG's OK can have arrived.
        os.write(2, b'MSG 5 "bye"\nDONE 2 ""\n')
        sys.exit(0)
    else:
        request("MSG", f"processed {len(seen)} inputs \u2713")
    send("DONE", "")
    if flaw == "after_done":
        send("MSG", "one more thing")
    if flaw == "hangs_after_done":
        while True:
            time.sleep(1)
