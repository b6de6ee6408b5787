/* inject_ws.c — core/ws.c compiled with a way in for the fuzz targets: ws_listen is
 * wrapped to remember the listener it made (ocppj keeps its own in a static), and a
 * connected socket can be handed to a listener as if it had accepted it (on_accept is
 * static), so a socketpair carries fuzz bytes through the real upgrade parsing, frame
 * reading and close handshake. */
#define ws_listen ws_listen_real
#include "ws.c"
#undef ws_listen

#include "inject.h"

static ws_listener *last_listener;

ws_listener *ws_listen(const char *addr, int port, const struct ws_limits *lim,
                       const struct ws_callbacks *cb, void *listener_arg);
ws_listener *ws_listen(const char *addr, int port, const struct ws_limits *lim,
                       const struct ws_callbacks *cb, void *listener_arg)
{
    return last_listener = ws_listen_real(addr, port, lim, cb, listener_arg);
}

ws_listener *fuzz_ws_last_listener(void)
{
    return last_listener;
}

void fuzz_ws_accept(ws_listener *l, int fd)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(40001)};
    sin.sin_addr.s_addr = htonl(0xC0000207); /* 192.0.2.7 */
    on_accept(l->l, fd, (struct sockaddr *)&sin, sizeof sin, l);
}
