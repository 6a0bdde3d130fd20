/* daemon/store/store-learned.h: the rows of the learned signals (schema v5):
 * the VA's corrections and the per-mailbox changes to the shipped models.
 * Rows only: what a correction does to a model is daemon/record/corrections.c's. */
#pragma once

#include "daemon/store/store.h"

/* One correction: message `message_id` is (label TRUE) or is not (FALSE)
 * `dimension` ("risky", "tone", ...), from `source` ("mark", "folder keel/Risky"). */
typedef struct {
  gint64 id;
  char *message_id;    /* owned, without <> */
  gint64 message_row;  /* messages.id, 0 when not stored (a .eml file) */
  char *dimension;     /* owned */
  gboolean label;
  char *source;        /* owned */
  char *subject;       /* owned: what the features were read from */
  char *new_text;      /* owned */
  double step;         /* the log-odds change it made */
  GDateTime *created;  /* owned, UTC */
} StoreCorrection;
void store_correction_free(StoreCorrection *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StoreCorrection, store_correction_free)

/* The label of the correction of (`message_id`, `dimension`): 1 risky, 0 fine,
 * -1 none. -2 with `error` on a failure. */
int store_correction_label(Store *store, const char *message_id, const char *dimension,
                           GError **error);
/* Records `row` (replacing an earlier one for the same message and dimension);
 * `*id` (may be NULL) receives its id. */
gboolean store_correction_save(Store *store, const StoreCorrection *row, gint64 *id,
                               GError **error);
/* Every correction, oldest first: StoreCorrection* (owned). */
GPtrArray *store_corrections(Store *store, GError **error);

/* Adds each feature -> double* of `deltas` to the stored changes of `dimension`. */
gboolean store_learned_add(Store *store, const char *dimension, GHashTable *deltas,
                           GError **error);
/* Calls `func` with every stored change (dimension, feature, delta). */
gboolean store_learned_each(Store *store,
                            void (*func)(const char *dimension, const char *feature, double delta,
                                         gpointer data),
                            gpointer data, GError **error);

/* The raw bytes of the message `row_id` (> 0) or else `message_id`; NULL
 * without error when there is none. `*found_row` receives its row id. */
GBytes *store_learned_message_raw(Store *store, gint64 row_id, const char *message_id,
                                  gint64 *found_row, GError **error);
