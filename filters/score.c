/* filters/score.c: not written yet. */
