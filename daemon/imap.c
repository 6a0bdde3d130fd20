/* daemon/imap.c: not written yet. */
