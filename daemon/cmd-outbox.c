/* daemon/cmd-outbox.c: `keel outbox`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_outbox(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel outbox: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
