/* daemon/pipeline.c: not written yet. */
