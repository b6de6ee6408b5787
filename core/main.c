/*
 * main.c — the pipelet daemon: command line, configuration, start-up order,
 * signals (TERM/INT drain and stop, HUP reopens the log and reloads) and shutdown.
 */
#include "core.h"
#include "billing.h"
#include "load.h"
#include "bus.h"
#include "certs.h"
#include "config.h"
#include "db.h"
#include "host.h"
#include "http.h"
#include "openapi.h"
#include "httpclient.h"
#include "memtrim.h"
#include "outbox.h"
#include "metrics.h"
#include "model.h"
#include "ocppj.h"
#include "plugin_loader.h"
#include "registry.h"
#include "tokens.h"
#include "keys.h"

#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

extern const struct pl_migration core_migrations[];
extern const unsigned long core_migrations_count;

static struct event *drain_timer;
static uint64_t drain_deadline;
static int stopping;

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: pipelet [OPTIONS]\n"
            "The pipelet EV-charging gateway (OCPP, REST, plugins).\n\n"
            "  -c, --config FILE        configuration file (default %s/pipelet/pipelet.conf)\n"
            "  -o, --option SEC.KEY=VAL override a configuration key (repeatable)\n"
            "      --check-config       validate the configuration and plugins, then exit\n"
            "      --list-plugins       list the plugins found in the plugin directories\n"
            "  -V, --version            print the version and plugin ABI, then exit\n"
            "  -h, --help               this help\n\n"
            "Environment: PIPELET_API_KEY (an admin API key), PGHOST/PGDATABASE/... (the\n"
            "database when [database] url is empty).  Signals: TERM/INT drain and stop,\n"
            "HUP reopens the log file and reloads plugins.\n",
            SYSCONFDIR);
}

/* Tell systemd (Type=notify) we are ready, without linking libsystemd. */
static void sd_notify_ready(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= 108)
        return;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path));
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    static const char msg[] = "READY=1";
    (void)sendto(fd, msg, sizeof msg - 1, 0, (struct sockaddr *)&sa,
                 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path)));
    close(fd);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            core_log(PL_LOG_WARN, "core", "cannot raise RLIMIT_NOFILE: %s", strerror(errno));
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        core_log(PL_LOG_INFO, "core", "file descriptor limit %llu",
                 (unsigned long long)rl.rlim_cur);
}

static void drain_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    json_t *st = db_stats();
    json_int_t queued = json_integer_value(json_object_get(st, "queued"));
    json_int_t busy = json_integer_value(json_object_get(st, "busy"));
    json_decref(st);
    model_flush();
    if ((queued == 0 && busy == 0 && model_pending() == 0) || core_now_ms() >= drain_deadline ||
        !db_healthy()) {
        core_log(PL_LOG_INFO, "core", "drained, stopping");
        event_base_loopexit(core_base, NULL);
    }
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (stopping) {
        core_log(PL_LOG_WARN, "core", "second signal: stopping now");
        event_base_loopexit(core_base, NULL);
        return;
    }
    stopping = 1;
    core_log(PL_LOG_INFO, "core", "%s received: draining", strsignal((int)sig));
    long drain_ms = 5000;
    core_config_int("core", "drain_timeout", 5000, 0, 600000, &drain_ms);
    drain_deadline = core_now_ms() + (uint64_t)drain_ms;
    loader_stop_all();      /* plugins flush their queues */
    ocppj_shutdown();       /* stations get a 1001 close; they reconnect elsewhere */
    model_flush();          /* batched meter values go to the database queue now */
    drain_timer = event_new(core_base, -1, EV_PERSIST, drain_check, NULL);
    struct timeval tv = {0, 50000};
    event_add(drain_timer, &tv);
}

struct db_settings {
    long pool_size, queue_max, query_timeout, connect_wait;
    int prepared_statements;
};

/* The [database] numbers; errors are logged with file and line. */
static int read_db_settings(struct db_settings *s)
{
    return core_config_int("database", "pool_size", 4, 1, 256, &s->pool_size) ||
           core_config_int("database", "queue_max", 10000, 1, 10000000, &s->queue_max) ||
           core_config_int("database", "query_timeout", 30000, 100, 3600000, &s->query_timeout) ||
           core_config_int("database", "connect_wait", 3000, 0, 600000, &s->connect_wait) ||
           core_config_bool("database", "prepared_statements", 1, &s->prepared_statements);
}

/* --check-config: the file was parsed and its core keys checked; check the database
 * numbers and ABI-check the listed plugins without initialising or binding anything.
 * The output is the verdict and what it covered, nothing about a daemon stopping. */
static int check_config(const char *path)
{
    struct db_settings dbs;
    if (read_db_settings(&dbs) != 0)
        return 2;
    if (loader_check_all() != 0) {
        fprintf(stderr, "pipelet: plugin check failed (see above)\n");
        return 1;
    }
    const char *load = core_config_get("plugins", "load");
    printf("configuration OK: %s (plugins checked: %s)\n", path,
           load && strspn(load, " ,\t") < strlen(load) ? load : "none listed");
    return 0;
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    core_log_reopen();
    core_log(PL_LOG_INFO, "core", "SIGHUP: log reopened, reloading plugins");
    loader_reload_all();
    tokens_reload(); /* token changes made with plain SQL, now rather than at the next refresh */
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"option", required_argument, NULL, 'o'},
        {"check-config", no_argument, NULL, 1},   {"list-plugins", no_argument, NULL, 2},
        {"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config_path = SYSCONFDIR "/pipelet/pipelet.conf";
    const char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    size_t noverrides = 0;
    int check_only = 0, list_plugins = 0, db_closed = 0, c;
    char err[1024];

    if (!overrides)
        return 1;
    while ((c = getopt_long(argc, argv, "c:o:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'o': overrides[noverrides++] = optarg; break;
        case 1: check_only = 1; break;
        case 2: list_plugins = 1; break;
        case 'V':
            printf("pipelet %s (plugin ABI %d.%d, %s)\n", PACKAGE_VERSION, PL_ABI_MAJOR,
                   PL_ABI_MINOR, PL_BUILD_SIGNATURE);
            free(overrides);
            return 0;
        case 'h': usage(stdout); free(overrides); return 0;
        default: usage(stderr); free(overrides); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pipelet: unexpected argument '%s'\n", argv[optind]);
        free(overrides);
        return 2;
    }

    if (config_load(config_path, overrides, noverrides, err, sizeof err) != 0 ||
        config_validate_core(err, sizeof err) != 0) {
        fprintf(stderr, "pipelet: configuration error: %s\n", err);
        free(overrides);
        config_free();
        return 2;
    }
    free(overrides);

    const char *lvl = core_config_get("core", "log_level");
    int level = lvl ? core_log_level_from_name(lvl) : PL_LOG_INFO;
    if (level < 0) {
        fprintf(stderr, "pipelet: configuration error: %s: [core] log_level: unknown level '%s'\n",
                config_where("core", "log_level"), lvl);
        config_free();
        return 2;
    }
    if (core_log_open(core_config_get("core", "log_file"), level) != 0) {
        config_free();
        return 2;
    }

    if (check_only) {
        int rc = check_config(config_path);
        config_free();
        return rc;
    }
    if (list_plugins) {
        const char *dirs = core_config_get("plugins", "dir");
        int n = loader_print_available(dirs && *dirs ? dirs : loader_default_dir());
        if (n == 0)
            printf("no plugins found in %s\n", dirs && *dirs ? dirs : loader_default_dir());
        config_free();
        return 0;
    }

    signal(SIGPIPE, SIG_IGN);
    raise_nofile();

    core_base = event_base_new();
    if (!core_base)
        return 1;
    core_dns = evdns_base_new(core_base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if (!core_dns)
        core_dns = evdns_base_new(core_base, 0); /* no resolv.conf: loopback still works */

    struct db_settings dbs;
    if (read_db_settings(&dbs) != 0)
        return 2;
    const char *url = core_config_get("database", "url");
    int rc = 1;
    if (db_init(url ? url : "", (int)dbs.pool_size, (int)dbs.queue_max,
                (unsigned)dbs.query_timeout) != 0)
        goto out;
    db_set_prepared_statements(dbs.prepared_statements);
    db_add_migrations("core", core_migrations, core_migrations_count);

    if (http_init() != 0 || ocppj_init() != 0 || certs_init() != 0)
        goto out;
    keys_init();
    if (openapi_init() != 0)
        goto out;
    if (loader_load_all(host_table()) != 0) {
        core_log(PL_LOG_ERROR, "core", "a required plugin failed: stopping");
        goto out_plugins;
    }
    if (db_start((unsigned)dbs.connect_wait) != 0) {
        if (db_migration_failed()) {
            core_log(PL_LOG_ERROR, "core", "database migration failed: stopping");
            goto out_plugins;
        }
        core_log(PL_LOG_WARN, "core",
                 "database not reachable yet: serving degraded, reconnecting in the background");
    }
    tokens_start(); /* the token table, from the database (now or once it is back) */
    certs_start();  /* expiring station certificates, checked periodically */
    memtrim_start(); /* free heap back to the system after connection churn */
    load_start();    /* sites and the load balancer, from the database */
    keys_start();   /* the managed API keys, likewise */
    outbox_start(); /* the durable outbox's poll; senders register in plugins' init */
    if (loader_start_all() != 0)
        goto out_plugins;
    /* ready means ready: the first stations are not refused while credentials load */
    db_settle((unsigned)dbs.connect_wait);

    struct event *ev_term = evsignal_new(core_base, SIGTERM, on_stop_signal, NULL);
    struct event *ev_int = evsignal_new(core_base, SIGINT, on_stop_signal, NULL);
    struct event *ev_hup = evsignal_new(core_base, SIGHUP, on_hup, NULL);
    event_add(ev_term, NULL);
    event_add(ev_int, NULL);
    event_add(ev_hup, NULL);

    core_log(PL_LOG_INFO, "core", "pipelet %s ready: http port %d, ocpp port %d",
             PACKAGE_VERSION, http_port(), ocppj_port());
    sd_notify_ready();
    event_base_dispatch(core_base);
    rc = 0;

    event_free(ev_term);
    event_free(ev_int);
    event_free(ev_hup);
    if (drain_timer)
        event_free(drain_timer);
out_plugins:
    /* Tear down from the edges inwards while plugins are still alive to receive the
     * last callbacks (connection closes, failed outbound requests, database results);
     * only then unload them. */
    ocppj_shutdown();
    httpclient_shutdown();
    registry_shutdown();
    db_shutdown();
    billing_shutdown(); /* after the database: no pricing answers any more */
    load_shutdown();
    db_closed = 1;
    tokens_shutdown();
    keys_shutdown();
    loader_fini_all();
    ocppj_free_closed();
    http_shutdown();
out:
    if (!db_closed)
        db_shutdown();
    metrics_free();
    openapi_shutdown();
    certs_shutdown();
    memtrim_shutdown();
    outbox_shutdown(); /* after the plugins: no sender answers any more */
    if (core_dns)
        evdns_base_free(core_dns, 0);
    if (core_base)
        event_base_free(core_base);
    core_log(PL_LOG_INFO, "core", "stopped (exit %d)", rc);
    config_free();
    return rc;
}
