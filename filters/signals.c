/* filters/signals.c: not written yet. */
