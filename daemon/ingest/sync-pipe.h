/* daemon/ingest/sync-pipe.h: the bounded, ordered hand-over between the
 * thread that fetches and parses the messages of a range and the thread that
 * stores them (daemon/ingest/sync.c, issue 19). Private to daemon/ingest. */
#pragma once

#include <glib.h>
#include "filters/message.h"

typedef enum {
  SYNC_ITEM_MESSAGE, /* a fetched message, parsed or not */
  SYNC_ITEM_SKIPPED, /* a UID recorded as handled without a message (over the size limit) */
  SYNC_ITEM_END,     /* the fetch is over: `error` NULL when it completed */
} SyncItemKind;

typedef struct {
  SyncItemKind kind;
  guint32 uid;
  GBytes *raw;          /* owned, MESSAGE only */
  GDateTime *received;  /* owned, MESSAGE only: when keel got it */
  KeelMessage *message; /* owned, may be NULL: not parsed (the store side parses it) */
  GError *error;        /* owned: MESSAGE: why the bytes are not a message; END: the
                           fetch's failure */
} SyncItem;

void sync_item_free(SyncItem *item);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SyncItem, sync_item_free)

typedef struct SyncPipe SyncPipe;

/* A pipe that holds at most `max_items` items and `max_bytes` raw bytes (one
 * item always fits), so memory stays flat whatever the folder's size. */
SyncPipe *sync_pipe_new(guint max_items, gsize max_bytes);
void sync_pipe_free(SyncPipe *pipe);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SyncPipe, sync_pipe_free)

/* Producer: appends `item` (taken), waiting while the pipe is full. FALSE
 * (item freed) once the consumer has closed the pipe: stop producing. */
gboolean sync_pipe_push(SyncPipe *pipe, SyncItem *item);

/* Consumer: the oldest item (caller owns it), waiting while there is none. */
SyncItem *sync_pipe_pop(SyncPipe *pipe);

/* Consumer: gives up; items in the pipe are dropped and every push from now
 * on returns FALSE at once. */
void sync_pipe_close(SyncPipe *pipe);
