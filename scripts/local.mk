# pipelet-sim, installed.  From the sources it runs build/pipelet with the simulator of
# build/plugins; the installed copy runs the installed daemon and plugin directory.  The
# two lines are rewritten by pattern, and the rule fails if either no longer matches, so
# an edit of scripts/pipelet-sim cannot silently install a script that needs the sources.
bin_SCRIPTS = pipelet-sim
CLEANFILES += pipelet-sim
pipelet-sim: $(top_srcdir)/scripts/pipelet-sim Makefile
	$(AM_V_GEN)sed -e 's|^daemon=\$${PIPELET:-.*}$$|daemon=$${PIPELET:-$(sbindir)/pipelet}|' \
	  -e 's|^plugindir=\$${PIPELET_PLUGINDIR:-.*}$$|plugindir=$${PIPELET_PLUGINDIR:-$(plugindir)}|' \
	  $(top_srcdir)/scripts/pipelet-sim > $@.tmp && \
	test "`grep -c -e '^daemon=.*:-$(sbindir)/pipelet}$$' -e '^plugindir=.*:-$(plugindir)}$$' $@.tmp`" = 2 || \
	  { echo "$@: scripts/pipelet-sim no longer sets daemon= and plugindir= as expected" >&2; rm -f $@.tmp; exit 1; }
	$(AM_V_at)chmod +x $@.tmp && mv $@.tmp $@
