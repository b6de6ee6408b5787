# Configuration (never overwriting an operator's file), systemd unit and man page.
# The man page and the unit name the configured paths (see edit_paths in Makefile.am).
EXTRA_DIST += etc/pipelet.conf etc/pipelet.service.in etc/pipelet.8.in
man8_MANS = etc/pipelet.8
systemdsystemunit_DATA = etc/pipelet.service
CLEANFILES += etc/pipelet.service etc/pipelet.8
etc/pipelet.service: $(top_srcdir)/etc/pipelet.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) etc && $(edit_paths) $(top_srcdir)/etc/pipelet.service.in > $@
etc/pipelet.8: $(top_srcdir)/etc/pipelet.8.in Makefile
	$(AM_V_GEN)$(MKDIR_P) etc && $(edit_paths) $(top_srcdir)/etc/pipelet.8.in > $@

install-data-local:
	$(MKDIR_P) $(DESTDIR)$(pkgconfdir)
	if test -f $(DESTDIR)$(pkgconfdir)/pipelet.conf; then \
	  $(INSTALL_DATA) $(top_srcdir)/etc/pipelet.conf $(DESTDIR)$(pkgconfdir)/pipelet.conf.dist; \
	  echo "kept the existing $(pkgconfdir)/pipelet.conf; new default installed as pipelet.conf.dist"; \
	else \
	  $(INSTALL_DATA) $(top_srcdir)/etc/pipelet.conf $(DESTDIR)$(pkgconfdir)/pipelet.conf; \
	fi

uninstall-local:
	rm -f $(DESTDIR)$(pkgconfdir)/pipelet.conf.dist
	if test -f $(DESTDIR)$(pkgconfdir)/pipelet.conf && cmp -s $(DESTDIR)$(pkgconfdir)/pipelet.conf $(top_srcdir)/etc/pipelet.conf; then rm -f $(DESTDIR)$(pkgconfdir)/pipelet.conf; fi
