/*
 * A Disco worker (protocol 1.1) in C99 with POSIX sockets, written from
 * protocol-spec/README.md alone.  Build: cc -O2 -o worker worker.c
 *
 * What it does: copies every input of its task into local output files, one
 * per label (the input's label, 0 for "all"), declares each with OUTPUT once
 * it is complete, sends one MSG, then DONE.  It reads raw://, http://,
 * disco://, dir:// (with label filtering) and local files, falls back over
 * replicas, and understands RETRY, FAIL and WAIT after INPUT_ERR.
 *
 * Frames go to stderr with write(2); nothing else is ever printed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* --- growable byte buffers -------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
} Buf;

static void put(Buf *b, const void *data, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void putf(Buf *b, const char *fmt, ...) {
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* --- frames ----------------------------------------------------------------------------- */

static void write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            _exit(4);
        }
        p += w;
        n -= (size_t)w;
    }
}

static void send_frame(const char *name, const char *payload, size_t n) {
    Buf f = {0};
    putf(&f, "%s %zu ", name, n); /* the length counts bytes */
    put(&f, payload, n);
    put(&f, "\n", 1);
    write_all(2, f.p, f.n);
    free(f.p);
}

static Buf in;   /* bytes read from stdin, not yet consumed */
static size_t in_pos;

static int fill(void) {
    char tmp[65536];
    ssize_t r;
    do r = read(0, tmp, sizeof tmp); while (r < 0 && errno == EINTR);
    if (r <= 0) exit(3); /* the master closed stdin: no reply will come */
    put(&in, tmp, (size_t)r);
    return 1;
}

/* Reads one reply; returns its payload (NUL-terminated), sets name. */
static char *recv_frame(char name[16]) {
    char *sp1, *sp2;
    for (;;) {
        sp1 = memchr(in.p + in_pos, ' ', in.n - in_pos);
        sp2 = sp1 ? memchr(sp1 + 1, ' ', in.n - (size_t)(sp1 + 1 - in.p)) : NULL;
        if (sp2) break;
        fill();
    }
    size_t nlen = (size_t)(sp1 - (in.p + in_pos));
    snprintf(name, 16, "%.*s", (int)(nlen < 15 ? nlen : 15), in.p + in_pos);
    size_t len = strtoul(sp1 + 1, NULL, 10);
    size_t start = (size_t)(sp2 + 1 - in.p);
    while (in.n < start + len + 1) fill();
    char *payload = malloc(len + 1);
    memcpy(payload, in.p + start, len);
    payload[len] = 0;
    in_pos = start + len + 1;
    if (in_pos == in.n) in.n = in_pos = 0;
    return payload;
}

static char *request(const char *name, const char *payload, char reply[16]) {
    send_frame(name, payload, strlen(payload));
    return recv_frame(reply);
}

/* --- a small JSON reader ---------------------------------------------------------------- */

enum { J_NULL, J_NUM, J_STR, J_ARR, J_OBJ };
typedef struct J {
    int type;
    long num;
    Buf str;           /* J_STR: decoded UTF-8 bytes; J_OBJ: keys are items[2i] */
    struct J **items;
    size_t n;
} J;

static void ws(const char **s) { while (**s == ' ' || **s == '\n' || **s == '\t' || **s == '\r') (*s)++; }

static void utf8(Buf *b, unsigned cp) {
    char o[4];
    int n;
    if (cp < 0x80) { o[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); n = 2; }
    else if (cp < 0x10000) { o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 63)); o[2] = (char)(0x80 | (cp & 63)); n = 3; }
    else { o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 63)); o[2] = (char)(0x80 | (cp >> 6 & 63)); o[3] = (char)(0x80 | (cp & 63)); n = 4; }
    put(b, o, (size_t)n);
}

static unsigned hex4(const char *s) {
    char tmp[5] = {s[0], s[1], s[2], s[3], 0};
    return (unsigned)strtoul(tmp, NULL, 16);
}

static J *parse(const char **s) {
    J *j = calloc(1, sizeof *j);
    ws(s);
    if (**s == '"') {
        j->type = J_STR;
        for ((*s)++; **s && **s != '"'; (*s)++) {
            if (**s != '\\') { put(&j->str, *s, 1); continue; }
            char e = *++(*s);
            if (e == 'n') put(&j->str, "\n", 1);
            else if (e == 't') put(&j->str, "\t", 1);
            else if (e == 'r') put(&j->str, "\r", 1);
            else if (e == 'b') put(&j->str, "\b", 1);
            else if (e == 'f') put(&j->str, "\f", 1);
            else if (e == 'u') {
                unsigned cp = hex4(*s + 1);
                *s += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && (*s)[1] == '\\' && (*s)[2] == 'u') {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(*s + 3) - 0xDC00);
                    *s += 6;
                }
                utf8(&j->str, cp);
            } else put(&j->str, &e, 1);
        }
        if (!j->str.p) put(&j->str, "", 0);
        if (**s) (*s)++;
    } else if (**s == '[' || **s == '{') {
        j->type = **s == '[' ? J_ARR : J_OBJ;
        char close = **s == '[' ? ']' : '}';
        (*s)++;
        ws(s);
        while (**s && **s != close) {
            j->items = realloc(j->items, (j->n + 2) * sizeof *j->items);
            j->items[j->n++] = parse(s);
            ws(s);
            if (**s == ':' || **s == ',') (*s)++;
            ws(s);
        }
        if (**s) (*s)++;
    } else if (**s == '-' || (**s >= '0' && **s <= '9')) {
        char *end;
        j->type = J_NUM;
        j->num = strtol(*s, &end, 10);
        *s = end;
        while (**s == '.' || **s == 'e' || **s == 'E' || **s == '+' || **s == '-' || (**s >= '0' && **s <= '9')) (*s)++;
    } else {
        while (**s && **s != ',' && **s != ']' && **s != '}') (*s)++; /* true, false, null */
    }
    return j;
}

static J *get(J *obj, const char *key) {
    for (size_t i = 0; i + 1 < obj->n; i += 2)
        if (obj->items[i]->type == J_STR && strcmp(obj->items[i]->str.p, key) == 0) return obj->items[i + 1];
    char text[128];
    int n = snprintf(text, sizeof text, "\"the TASK reply has no %.60s\"", key);
    send_frame("FATAL", text, (size_t)n); /* every run of this task would fail the same way */
    exit(1);
}

/* --- reading inputs --------------------------------------------------------------------- */

static const char *host_name, *disco_data, *ddfs_data;
static long disco_port;

static int read_file(const char *path, Buf *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char tmp[65536];
    size_t r;
    while ((r = fread(tmp, 1, sizeof tmp, f)) > 0) put(out, tmp, r);
    int bad = ferror(f);
    fclose(f);
    return bad ? -1 : 0;
}

static int http_get(const char *url, Buf *out) {
    char host[256], port[16] = "80";
    const char *rest = url + strlen("http://");
    const char *slash = strchr(rest, '/');
    const char *path = slash ? slash : "/";
    size_t hl = slash ? (size_t)(slash - rest) : strlen(rest);
    if (hl >= sizeof host) return -1;
    memcpy(host, rest, hl);
    host[hl] = 0;
    char *colon = strchr(host, ':');
    if (colon) {
        snprintf(port, sizeof port, "%s", colon + 1);
        *colon = 0;
    }
    struct addrinfo hints = {0}, *ai;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0) return -1;
    int fd = -1;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        if (fd >= 0) close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) return -1;
    Buf req = {0}, resp = {0};
    putf(&req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host);
    write_all(fd, req.p, req.n);
    free(req.p);
    char tmp[65536];
    ssize_t r;
    while ((r = read(fd, tmp, sizeof tmp)) > 0) put(&resp, tmp, (size_t)r);
    close(fd);
    int ok = -1;
    char *body = resp.p ? strstr(resp.p, "\r\n\r\n") : NULL;
    if (body && strncmp(resp.p, "HTTP/1.", 7) == 0 && strncmp(resp.p + 8, " 200", 4) == 0) {
        body += 4;
        put(out, body, resp.n - (size_t)(body - resp.p));
        ok = 0;
    }
    free(resp.p);
    return ok;
}

static int fetch(const char *url, Buf *out) {
    if (strncmp(url, "raw://", 6) == 0) {
        put(out, url + 6, strlen(url + 6)); /* verbatim: no percent-decoding */
        return 0;
    }
    if (strncmp(url, "http://", 7) == 0) return http_get(url, out);
    if (strncmp(url, "file://", 7) == 0) return read_file(url + 7, out);
    int disco = strncmp(url, "disco://", 8) == 0, dir = strncmp(url, "dir://", 6) == 0;
    if (disco || dir) {
        const char *rest = url + (disco ? 8 : 6);
        const char *slash = strchr(rest, '/');
        if (!slash) return -1;
        char host[256];
        size_t hl = (size_t)(slash - rest);
        if (hl >= sizeof host) return -1;
        memcpy(host, rest, hl);
        host[hl] = 0;
        char *at = strrchr(host, '@');
        char *h = at ? at + 1 : host;
        char *colon = strchr(h, ':');
        if (colon) *colon = 0;
        const char *path = slash + 1;
        Buf local = {0};
        int result;
        if (strcmp(h, host_name) == 0) {
            const char *tail = strchr(path, '/');
            int is_ddfs = strncmp(path, "ddfs/", 5) == 0;
            putf(&local, "%s/%s", is_ddfs ? ddfs_data : disco_data, tail ? tail + 1 : "");
            result = read_file(local.p, out);
        } else {
            putf(&local, "http://%s:%ld/%s", h, disco_port, path);
            result = http_get(local.p, out);
        }
        free(local.p);
        return result;
    }
    if (strstr(url, "://")) return -1;
    return read_file(url, out);
}

/* label: -1 for "all" */
static int read_replica(const char *url, long label, Buf *out) {
    if (strncmp(url, "dir://", 6) != 0) return fetch(url, out);
    Buf index = {0};
    if (fetch(url, &index) != 0) return -1;
    int result = 0;
    char *save = NULL;
    for (char *line = index.p ? strtok_r(index.p, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        long line_label;
        char line_url[4096];
        if (sscanf(line, "%ld %4095s", &line_label, line_url) != 2) continue;
        if (label == -1 || line_label == label)
            if (fetch(line_url, out) != 0) { result = -1; break; }
    }
    free(index.p);
    return result;
}

/* Reads input (id, label, replicas) into out, falling back over replicas. */
static void read_input(long id, long label, J *replicas, Buf *out) {
    Buf failed = {0};
    for (;;) {
        for (size_t i = 0; i < replicas->n; i++) {
            J *replica = replicas->items[i];
            size_t before = out->n;
            if (read_replica(replica->items[1]->str.p, label, out) == 0) { free(failed.p); return; }
            out->n = before;
            putf(&failed, "%s%ld", failed.n ? "," : "", replica->items[0]->num);
        }
        /* Every replica failed. A Disco 0.5.4 master ends the task on this INPUT_ERR. */
        Buf msg = {0};
        char name[16];
        putf(&msg, "[%ld,[%s]]", id, failed.p ? failed.p : "");
        char *payload = request("INPUT_ERR", msg.p, name);
        free(msg.p);
        const char *p = payload;
        J *reply = parse(&p);
        if (strcmp(name, "RETRY") == 0) {
            replicas = reply;
        } else if (strcmp(name, "WAIT") == 0) {
            sleep((unsigned)reply->num);
        } else {
            char text[128];
            int n = snprintf(text, sizeof text, "\"input %ld: no replica can be read\"", id);
            send_frame("ERROR", text, (size_t)n);
            exit(1);
        }
    }
}

/* --- the task --------------------------------------------------------------------------- */

#define MAX_LABELS 1024

int main(void) {
    char name[16];
    char pid[64];
    snprintf(pid, sizeof pid, "{\"version\":\"1.1\",\"pid\":%ld}", (long)getpid());
    free(request("WORKER", pid, name));
    char *task_text = request("TASK", "\"\"", name);
    const char *p = task_text;
    J *task = parse(&p);
    host_name = get(task, "host")->str.p;
    disco_data = get(task, "disco_data")->str.p;
    ddfs_data = get(task, "ddfs_data")->str.p;
    disco_port = get(task, "disco_port")->num;
    char outdir[512];
    snprintf(outdir, sizeof outdir, "out/%s-%ld-%ld", get(task, "stage")->str.p, get(task, "taskid")->num, (long)getpid());
    mkdir("out", 0755);
    if (mkdir(outdir, 0755) != 0) {
        send_frame("ERROR", "\"cannot create the output directory\"", 36);
        return 1;
    }
    long labels[MAX_LABELS];
    size_t nlabels = 0, ninputs = 0;
    Buf seen = {0};
    int done = 0;
    while (!done) {
        Buf req = {0};
        putf(&req, "[\"exclude\",[%s]]", seen.p ? seen.p : "");
        char *payload = request("INPUT", req.p, name);
        free(req.p);
        const char *q = payload;
        J *reply = parse(&q);
        done = strcmp(reply->items[0]->str.p, "done") == 0;
        J *entries = reply->items[1];
        for (size_t i = 0; i < entries->n; i++) {
            J *entry = entries->items[i];
            long id = entry->items[0]->num;
            putf(&seen, "%s%ld", seen.n ? "," : "", id);
            ninputs++;
            J *jlabel = entry->items[2], *replicas = entry->items[3];
            if (strcmp(entry->items[1]->str.p, "ok") != 0 || replicas->n == 0) continue;
            long label = jlabel->type == J_STR ? -1 : jlabel->num;
            Buf data = {0};
            read_input(id, label, replicas, &data);
            long out_label = label < 0 ? 0 : label;
            size_t k;
            for (k = 0; k < nlabels && labels[k] != out_label; k++) {}
            if (k == nlabels && nlabels < MAX_LABELS) labels[nlabels++] = out_label;
            char path[600];
            snprintf(path, sizeof path, "%s/label-%ld", outdir, out_label);
            FILE *f = fopen(path, "ab");
            if (!f || (data.n && fwrite(data.p, 1, data.n, f) != data.n) || fclose(f) != 0) {
                send_frame("ERROR", "\"cannot write an output file\"", 29);
                return 1;
            }
            free(data.p);
        }
        free(payload);
    }
    for (size_t k = 0; k < nlabels; k++) {
        char path[600];
        struct stat st;
        snprintf(path, sizeof path, "%s/label-%ld", outdir, labels[k]);
        if (stat(path, &st) != 0) continue;
        Buf msg = {0};
        putf(&msg, "[%ld,\"%s\",%lld]", labels[k], path, (long long)st.st_size);
        free(request("OUTPUT", msg.p, name));
        free(msg.p);
    }
    Buf msg = {0};
    putf(&msg, "\"C worker: %zu outputs from %zu inputs\"", nlabels, ninputs);
    free(request("MSG", msg.p, name));
    send_frame("DONE", "\"\"", 2);
    return 0;
}
