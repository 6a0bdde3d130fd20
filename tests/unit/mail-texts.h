/* tests/unit/mail-texts.h: the test mail as texts, for the tests that read
 * real mail two ways and compare (regex tries, deadline heads): each .eml
 * under tests/data that is valid UTF-8, whole, then each of its lines.
 * Header-only, so that pure tests still link filters/ alone. Must not: be
 * included twice in one test, or read anything but tests/data. */
#pragma once

#include <string.h>
#include <glib.h>

/* A new array (g_ptr_array_unref) of owned strings: every file whole, then
 * its lines, stripped. */
static GPtrArray *mail_texts_load(void)
{
  GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);
  const char *root = g_getenv("KEEL_SOURCE_ROOT");
  const char *dirs[] = { "tests/data/parser", "tests/data/promises", "tests/data/why",
                         "tests/data/demo", "tests/data/voice" };
  for (guint d = 0; d < G_N_ELEMENTS(dirs); d++) {
    g_autofree char *dir_path = g_build_filename(root ? root : ".", dirs[d], NULL);
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    for (const char *name; dir && (name = g_dir_read_name(dir));) {
      g_autofree char *path = g_build_filename(dir_path, name, NULL);
      g_autofree char *data = NULL;
      if (!g_str_has_suffix(name, ".eml") || !g_file_get_contents(path, &data, NULL, NULL) ||
          !g_utf8_validate(data, -1, NULL))
        continue;
      g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
      g_ptr_array_add(texts, g_steal_pointer(&data));
      for (guint i = 0; lines[i]; i++)
        g_ptr_array_add(texts, g_strdup(g_strstrip(lines[i])));
    }
  }
  return texts;
}
