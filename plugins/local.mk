include plugins/ocpp_common/local.mk
include plugins/ocpp16/local.mk
include plugins/ocpp201/local.mk
include plugins/headless/local.mk
include plugins/simulator/local.mk
include plugins/webhooks/local.mk
include plugins/mcp/local.mk
