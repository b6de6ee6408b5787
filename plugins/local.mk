include plugins/ocpp_common/local.mk
include plugins/ocpp16/local.mk
include plugins/ocpp201/local.mk
include plugins/headless/local.mk
include plugins/simulator/local.mk
include plugins/webhooks/local.mk
include plugins/mcp/local.mk
include plugins/console/local.mk
include plugins/oicp/local.mk
include plugins/pnc/local.mk

# A plugin's API description, plugins/NAME/openapi.json, compiled in as NAME_openapi_json
# (no data file to install or lose); the plugin gives it to pl_http_describe_text.
plugins/%/openapi_json.c: $(top_srcdir)/plugins/%/openapi.json $(top_srcdir)/scripts/text2c.sh
	$(AM_V_GEN)$(MKDIR_P) plugins/$* && \
	$(SHELL) $(top_srcdir)/scripts/text2c.sh $(subst /,_,$*)_openapi_json $(top_srcdir)/plugins/$*/openapi.json > $@.tmp && mv $@.tmp $@
