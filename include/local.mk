pkginclude_HEADERS = \
	include/pipelet/plugin.h \
	include/pipelet/ocpp.h \
	include/pipelet/station.h \
	include/pipelet/certs.h \
	include/pipelet/tokens.h \
	include/pipelet/billing.h \
	include/pipelet/load.h \
	include/pipelet/model.h \
	include/pipelet/outbox.h \
	include/pipelet/pipelet.h
