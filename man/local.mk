# man/: manual pages (linted with mandoc in make check).
dist_man_MANS += man/blattd.8 man/blatt.1 man/blattd.conf.5 man/blatt-policy.conf.5 man/blatt-filter.7 \
	man/blatt-backend.7
