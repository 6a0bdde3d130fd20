/* daemon/cmd-instruction.c: `keel instruction`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_instruction(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel instruction: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
