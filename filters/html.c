/* filters/html.c: not written yet. */
