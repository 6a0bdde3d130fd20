/* filters/message.c: not written yet. */
