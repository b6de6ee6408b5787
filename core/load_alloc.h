/*
 * load_alloc.h — how a site's current is shared (load_alloc.c): a pure function, so the
 * rule is unit-tested by hand-made cases and the balancer (load.c) only keeps state.
 */
#ifndef PIPELET_LOAD_ALLOC_H
#define PIPELET_LOAD_ALLOC_H

#include <stddef.h>

struct load_demand {
    double cap; /* most this session may take (A per phase): the station's maximum, or
                 * less when its EV was seen drawing less */
    double out; /* the share (A per phase, rounded down to 0.1 A); 0 = paused */
};

/* Share avail (A per phase) among d[0..n) in start order: equal shares, a session
 * capped below its share leaves the rest to the others (water-filling); when the shares
 * would fall below min, the newest sessions are paused (out = 0) until they do not. */
void load_allocate(struct load_demand *d, size_t n, double avail, double min);

#endif
