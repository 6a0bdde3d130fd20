/* filters/quote.c: not written yet. */
