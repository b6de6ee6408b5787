/* billing.h — the tariffs domain (pipelet/billing.h) as the host gives it to plugins. */
#ifndef PIPELET_CORE_BILLING_H
#define PIPELET_CORE_BILLING_H

#include <pipelet/billing.h>

const struct pl_billing_api *billing_api(void);

#endif
