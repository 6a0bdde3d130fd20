/* daemon/cmd-confirm.c: `keel confirm`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_confirm(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel confirm: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
