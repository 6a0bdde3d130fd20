/* daemon/cmd-score.c: `keel score`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_score(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel score: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
