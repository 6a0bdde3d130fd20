/* daemon/store.c: not written yet. */
