/* pipelet/pipelet.h — umbrella header: everything a plugin may include. */
#ifndef PIPELET_PIPELET_H
#define PIPELET_PIPELET_H
#include <pipelet/plugin.h>
#include <pipelet/ocpp.h>
#include <pipelet/station.h>
#include <pipelet/certs.h>
#include <pipelet/tokens.h>
#include <pipelet/billing.h>
#include <pipelet/load.h>
#include <pipelet/model.h>
#include <pipelet/outbox.h>
#endif
