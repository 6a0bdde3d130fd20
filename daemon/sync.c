/* daemon/sync.c: not written yet. */
