/*
 * urlcheck.c — what a webhook URL may be: a strict parse (http/https, a host, an
 * optional port, RFC 3986 characters only, no credentials) and the address policy that
 * keeps deliveries out of the gateway's own networks (SSRF).  Pure: no I/O.
 */
#include "webhooks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 path, query and fragment characters (pchar, "/", "?"), '%' checked apart */
static int is_path_char(int c)
{
    return is_alnum(c) || (c && strchr("-._~!$&'()*+,;=:@/?", c));
}

/* The authority: a host (name or [IPv6]) and an optional port. */
static const char *parse_authority(const char *a, size_t n, struct wh_url *out)
{
    if (memchr(a, '@', n))
        return "url must not carry credentials (user:password@)";
    size_t hl;
    const char *rest;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return "url has an unterminated [IPv6] host";
        hl = (size_t)(close - a - 1);
        if (hl == 0 || hl >= sizeof out->host)
            return "url has no host";
        memcpy(out->host, a + 1, hl);
        out->host[hl] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, out->host, &a6) != 1)
            return "url has a malformed IPv6 host";
        out->ipv6 = 1;
        rest = close + 1;
    } else {
        const char *colon = memchr(a, ':', n);
        hl = colon ? (size_t)(colon - a) : n;
        if (hl == 0)
            return "url has no host";
        if (hl >= sizeof out->host)
            return "url host is too long";
        for (size_t i = 0; i < hl; i++)
            if (!is_alnum(a[i]) && !strchr("-._~", a[i]))
                return "url host may hold letters, digits, '-', '.', '_' and '~' only";
        memcpy(out->host, a, hl);
        out->host[hl] = '\0';
        rest = a + hl;
    }
    size_t rl = n - (size_t)(rest - a);
    if (rl == 0)
        return NULL;
    if (rest[0] != ':' || rl < 2 || rl > 6)
        return "url port must be 1..65535";
    long port = 0;
    for (size_t i = 1; i < rl; i++) {
        if (rest[i] < '0' || rest[i] > '9')
            return "url port must be 1..65535";
        port = port * 10 + (rest[i] - '0');
    }
    if (port < 1 || port > 65535)
        return "url port must be 1..65535";
    out->port = (int)port;
    return NULL;
}

const char *wh_url_parse(const char *url, struct wh_url *out)
{
    memset(out, 0, sizeof *out);
    size_t len = url ? strlen(url) : 0;
    if (len == 0 || len >= 2048)
        return "url must be an http:// or https:// URL shorter than 2048 bytes";
    /* CR/LF would split headers, and every parser reads spaces, controls and raw
     * non-ASCII differently: refuse them (percent-encode, or punycode the host) */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f || url[i] == '\\')
            return "url must not contain spaces, control characters, backslashes or "
                   "non-ASCII bytes (percent-encode them)";
    size_t skip;
    if (strncasecmp(url, "https://", 8) == 0) {
        out->tls = 1;
        skip = 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        skip = 7;
    } else {
        return "url must be an http:// or https:// URL";
    }
    const char *a = url + skip;
    size_t n = strcspn(a, "/?#");
    const char *why = parse_authority(a, n, out);
    if (why)
        return why;
    if (!out->port)
        out->port = out->tls ? 443 : 80;
    int fragment = 0;
    for (const char *p = a + n; *p; p++) {
        int ok = *p == '%'   ? is_hex(p[1]) && is_hex(p[2])
                 : *p == '#' ? !fragment++
                             : is_path_char(*p);
        if (!ok)
            return "url path and query may hold RFC 3986 characters only (percent-encode others)";
    }
    return NULL;
}

/* ---------- the address policy ---------- */

static int in4(uint32_t a, uint32_t net, int bits)
{
    return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits));
}

/* Why an IPv4 address (host order) is not a public unicast one; NULL when it is.
 * Globally-reachable = False in IANA's special-purpose registry, plus multicast. */
static const char *v4_forbidden(uint32_t a)
{
    static const struct {
        uint32_t net;
        int bits;
        const char *why;
    } ranges[] = {
        {0x00000000, 8, "unspecified"},       {0x0a000000, 8, "private"},
        {0x64400000, 10, "shared (CGNAT)"},   {0x7f000000, 8, "loopback"},
        {0xa9fe0000, 16, "link-local"},       {0xac100000, 12, "private"},
        {0xc0000000, 24, "reserved"},         {0xc0000200, 24, "documentation"},
        {0xc0a80000, 16, "private"},          {0xc6120000, 15, "reserved"},
        {0xc6336400, 24, "documentation"},    {0xcb007100, 24, "documentation"},
        {0xe0000000, 4, "multicast"},         {0xffffffff, 32, "broadcast"},
        {0xf0000000, 4, "reserved"},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (in4(a, ranges[i].net, ranges[i].bits))
            return ranges[i].why;
    return NULL;
}

static uint32_t v4_at(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* IPv6: its own special ranges, and every form that carries an IPv4 address (mapped,
 * compatible, NAT64, 6to4) is judged by that address. */
static const char *v6_forbidden(const unsigned char *b)
{
    static const unsigned char zero[16];
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (memcmp(b, zero, 15) == 0)
        return b[15] == 1 ? "loopback" : b[15] == 0 ? "unspecified" : "reserved";
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return v4_forbidden(v4_at(b + 12));
    if (b[0] == 0x20 && b[1] == 0x02)
        return v4_forbidden(v4_at(b + 2));
    if (b[0] == 0xff)
        return "multicast";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return "link-local";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return "site-local";
    if ((b[0] & 0xfe) == 0xfc)
        return "private";
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return "documentation";
    if (b[0] == 0 || (b[0] == 0x01 && b[1] == 0 && b[2] == 0 && b[3] == 0))
        return "reserved";
    return NULL;
}

const char *wh_addr_forbidden(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return v4_forbidden(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6)
        return v6_forbidden(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return "not an internet address";
}

/* "localhost", "x.localhost" (RFC 6761), with or without the root dot */
static int is_localhost_name(const char *h)
{
    size_t n = strlen(h);
    if (n && h[n - 1] == '.')
        n--;
    return (n == 9 && strncasecmp(h, "localhost", 9) == 0) ||
           (n > 10 && strncasecmp(h + n - 10, ".localhost", 10) == 0);
}

const char *wh_url_host_forbidden(const struct wh_url *u)
{
    if (u->ipv6) {
        struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
        inet_pton(AF_INET6, u->host, &s6.sin6_addr);
        return wh_addr_forbidden((struct sockaddr *)&s6);
    }
    /* every IPv4 spelling a resolver accepts: 127.1, 2130706433, 0x7f.0.0.1 */
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    if (inet_aton(u->host, &s4.sin_addr))
        return wh_addr_forbidden((struct sockaddr *)&s4);
    return is_localhost_name(u->host) ? "loopback" : NULL;
}

int wh_url_is_literal(const struct wh_url *u)
{
    struct in_addr a;
    return u->ipv6 || inet_aton(u->host, &a);
}
