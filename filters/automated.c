/* filters/automated.c: not written yet. */
