/*
 * load_alloc.c — water-filling with a minimum.  Equal shares are fair and predictable for
 * an operator to read ("four cars, 8 A each"); a session capped below its share (its EV
 * draws less, or its station cannot take more) gives the difference to the others; and
 * a share below the EV minimum (IEC 61851: 6 A) would stop every car at once, so the
 * newest sessions wait instead, the oldest keep charging.
 */
#include "load_alloc.h"

#include <math.h>
#include <stdlib.h>

static double round_down(double a)
{
    return a <= 0 ? 0 : floor(a * 10.0 + 1e-9) / 10.0;
}

/* Water-fill avail over the first k sessions; returns the smallest share given to a
 * session that wanted more than it got (HUGE_VAL when every session got its cap). */
static double fill(struct load_demand *d, size_t k, double avail)
{
    size_t *ix = malloc((k ? k : 1) * sizeof *ix);
    double least = HUGE_VAL;
    if (!ix) { /* out of memory: nobody gets more than the equal share */
        for (size_t i = 0; i < k; i++)
            d[i].out = fmin(d[i].cap, avail / (double)k);
        return avail / (double)(k ? k : 1);
    }
    for (size_t i = 0; i < k; i++)
        ix[i] = i;
    /* insertion sort by cap: n is a site's sessions, tens to a few hundred */
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && d[ix[j]].cap < d[ix[j - 1]].cap; j--) {
            size_t t = ix[j];
            ix[j] = ix[j - 1];
            ix[j - 1] = t;
        }
    double left = avail;
    for (size_t i = 0; i < k; i++) {
        double share = left / (double)(k - i);
        struct load_demand *s = &d[ix[i]];
        if (s->cap <= share) {
            s->out = s->cap;
            left -= s->cap;
            continue;
        }
        for (size_t j = i; j < k; j++)
            d[ix[j]].out = share;
        least = share;
        break;
    }
    free(ix);
    return least;
}

void load_allocate(struct load_demand *d, size_t n, double avail, double min)
{
    if (avail < 0)
        avail = 0;
    size_t k = n;
    for (; k > 0; k--) {
        double least = fill(d, k, avail);
        /* a session below the minimum only because of its own cap is fine; a share
         * below it is not */
        if (least >= min || least == HUGE_VAL)
            break;
    }
    for (size_t i = 0; i < n; i++)
        d[i].out = i < k ? round_down(d[i].out) : 0;
    /* rounding down each share never adds up to more than avail */
}
