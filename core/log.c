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

/* Escape the message so one event stays one line and msg="..." stays parseable. */
static void write_escaped(FILE *fp, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", fp);
        else if (c < 0x20)
            fprintf(fp, "\\x%02x", c);
        else
            fputc(c, fp);
    }
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
    char msg[2048], ts[40];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(fp, "time=%s level=%s comp=%s msg=\"", core_now_rfc3339(ts, sizeof ts),
            level_names[level], component ? component : "core");
    write_escaped(fp, msg);
    fputs("\"\n", fp);
}

void core_log(int level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    core_vlog(level, component, fmt, ap);
    va_end(ap);
}
