# etc/: the shipped configuration, the format graph, the printer icons and the systemd unit.
blattconfdir = $(sysconfdir)/blatt
dist_blattconf_DATA = etc/blattd.conf
dist_pkgdata_DATA += etc/formats.conf
iconsdir = $(pkgdatadir)/icons
dist_icons_DATA = etc/icons/printer.png etc/icons/printer-sm.png etc/icons/printer-lg.png
systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = etc/blattd.service
EXTRA_DIST += etc/icons/printer.ps etc/blattd.service.in
CLEANFILES += etc/blattd.service

etc/blattd.service: etc/blattd.service.in Makefile
	$(MKDIR_P) etc
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/etc/blattd.service.in >$@
