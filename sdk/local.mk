pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = sdk/pipelet-plugin.pc
