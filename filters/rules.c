/* filters/rules.c: not written yet. */
