/*
 * log.c — structured logging: one line per event,
 *   time=2026-11-24T19:00:00.123Z level=info comp=ws msg="..."
 * to stderr or a file that SIGHUP reopens (logrotate-friendly).
 */
#include "core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *log_fp;
static char *log_path;
static int log_level = PL_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int core_log_level_from_name(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    if (strcmp(name, "warning") == 0)
        return PL_LOG_WARN;
    return -1;
}

int core_log_open(const char *path, int level)
{
    log_level = level;
    free(log_path);
    log_path = NULL;
    if (log_fp && log_fp != stderr)
        fclose(log_fp);
    log_fp = stderr;
    if (path && *path && strcmp(path, "-") != 0) {
        FILE *fp = fopen(path, "a");
        if (!fp) {
            fprintf(stderr, "pipelet: cannot open log file %s: %s\n", path, strerror(errno));
            return -1;
        }
        setvbuf(fp, NULL, _IOLBF, 0);
        log_fp = fp;
        log_path = strdup(path);
    }
    return 0;
}

int core_log_reopen(void)
{
    if (!log_path)
        return 0;
    FILE *fp = fopen(log_path, "a");
    if (!fp)
        return -1;
    setvbuf(fp, NULL, _IOLBF, 0);
    if (log_fp && log_fp != stderr)
        fclose(log_fp);
    log_fp = fp;
    return 0;
}

/* Escape the message so one event stays one line and msg="..." stays parseable.
 * Returns the bytes written to out (always leaves room for the closing quote). */
static size_t escape_into(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (; *s && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else if (c < 0x20) {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    return n;
}

void core_vlog(int level, const char *component, const char *fmt, va_list ap)
{
    if (level > log_level)
        return;
    if (level < 0)
        level = 0;
    if (level > 3)
        level = 3;
    FILE *fp = log_fp ? log_fp : stderr;
    char msg[2048], ts[40], line[4608];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* one write per event: stderr is unbuffered, and whole lines never interleave */
    int head = snprintf(line, sizeof line, "time=%s level=%s comp=%s msg=\"",
                        core_now_rfc3339(ts, sizeof ts), level_names[level],
                        component ? component : "core");
    if (head < 0 || (size_t)head >= sizeof line - 8)
        return;
    size_t n = (size_t)head + escape_into(line + head, sizeof line - (size_t)head - 2, msg);
    line[n++] = '"';
    line[n++] = '\n';
    fwrite(line, 1, n, fp);
}

void core_log(int level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    core_vlog(level, component, fmt, ap);
    va_end(ap);
}
