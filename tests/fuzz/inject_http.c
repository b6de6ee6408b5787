/* inject_http.c — core/http.c compiled with a way in for the fuzz target.  libevent
 * does not export evhttp_get_request, so the router's evhttp (a static of http.c) also
 * listens on an abstract unix socket: a client connecting there is accepted by the
 * very path a TCP client takes (evconnlistener -> evhttp -> the gate), and the bytes go
 * through the connection gate, evhttp's parser and the router. */
#include "http.c"

#include <stddef.h>
#include <sys/un.h>
#include <unistd.h>

#include "inject.h"
#include "http_gate.h"

static struct sockaddr_un fuzz_addr;

int fuzz_http_listen(void)
{
    fuzz_addr.sun_family = AF_UNIX;
    /* abstract (leading NUL): no file to clean up, one per process */
    snprintf(fuzz_addr.sun_path + 1, sizeof fuzz_addr.sun_path - 1, "pipelet-fuzz-http-%d", (int)getpid());
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(fuzz_addr.sun_path + 1));
    struct evconnlistener *l = evconnlistener_new_bind(core_base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE, 64,
                                                       (struct sockaddr *)&fuzz_addr, (int)len);
    if (!l || !evhttp_bind_listener(H.http, l))
        return -1;
    return 0;
}

int fuzz_http_connect(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(fuzz_addr.sun_path + 1));
    if (fd < 0 || connect(fd, (struct sockaddr *)&fuzz_addr, len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    evutil_make_socket_nonblocking(fd);
    return fd;
}

int fuzz_http_connections(void)
{
    return (int)http_gate_count();
}
