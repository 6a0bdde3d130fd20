/* daemon/config.c: not written yet. */
