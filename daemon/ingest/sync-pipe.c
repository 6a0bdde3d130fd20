/* daemon/ingest/sync-pipe.c: a bounded queue of SyncItems from one producer
 * thread (fetch and parse) to one consumer (store), in order. A mutex, two
 * conditions (not full / not empty) and a GQueue; bounded by count and by raw
 * bytes so that a fast fetch cannot run ahead of the store by more than that.
 *
 * Must not: look inside the items beyond their size, or block the consumer
 * once it has closed the pipe.
 */
#include "daemon/ingest/sync-pipe.h"

struct SyncPipe {
  GMutex lock;
  GCond changed;    /* an item was pushed or popped, or the pipe closed */
  GQueue items;     /* of SyncItem*, owned */
  gsize bytes;      /* raw bytes of the items queued */
  guint max_items;
  gsize max_bytes;
  gboolean closed;  /* the consumer gave up */
};

void sync_item_free(SyncItem *item)
{
  if (!item)
    return;
  g_clear_pointer(&item->raw, g_bytes_unref);
  g_clear_pointer(&item->received, g_date_time_unref);
  g_clear_pointer(&item->message, message_free);
  g_clear_error(&item->error);
  g_free(item);
}

static gsize sync_item_bytes(const SyncItem *item)
{
  return item->raw ? g_bytes_get_size(item->raw) : 0;
}

SyncPipe *sync_pipe_new(guint max_items, gsize max_bytes)
{
  SyncPipe *pipe = g_new0(SyncPipe, 1);
  g_mutex_init(&pipe->lock);
  g_cond_init(&pipe->changed);
  g_queue_init(&pipe->items);
  pipe->max_items = MAX(max_items, 1);
  pipe->max_bytes = max_bytes;
  return pipe;
}

void sync_pipe_free(SyncPipe *pipe)
{
  if (!pipe)
    return;
  g_queue_clear_full(&pipe->items, (GDestroyNotify)sync_item_free);
  g_cond_clear(&pipe->changed);
  g_mutex_clear(&pipe->lock);
  g_free(pipe);
}

/* Called with the lock held: TRUE when `item` may go in now. */
static gboolean sync_pipe_has_room(const SyncPipe *pipe, const SyncItem *item)
{
  if (pipe->items.length == 0)
    return TRUE;
  return pipe->items.length < pipe->max_items
         && pipe->bytes + sync_item_bytes(item) <= pipe->max_bytes;
}

gboolean sync_pipe_push(SyncPipe *pipe, SyncItem *item)
{
  g_mutex_lock(&pipe->lock);
  while (!pipe->closed && !sync_pipe_has_room(pipe, item))
    g_cond_wait(&pipe->changed, &pipe->lock);
  gboolean open = !pipe->closed;
  if (open) {
    pipe->bytes += sync_item_bytes(item);
    g_queue_push_tail(&pipe->items, item);
    g_cond_broadcast(&pipe->changed);
  }
  g_mutex_unlock(&pipe->lock);
  if (!open)
    sync_item_free(item);
  return open;
}

SyncItem *sync_pipe_pop(SyncPipe *pipe)
{
  g_mutex_lock(&pipe->lock);
  while (pipe->items.length == 0)
    g_cond_wait(&pipe->changed, &pipe->lock);
  SyncItem *item = g_queue_pop_head(&pipe->items);
  pipe->bytes -= sync_item_bytes(item);
  g_cond_broadcast(&pipe->changed);
  g_mutex_unlock(&pipe->lock);
  return item;
}

void sync_pipe_close(SyncPipe *pipe)
{
  g_mutex_lock(&pipe->lock);
  pipe->closed = TRUE;
  g_queue_clear_full(&pipe->items, (GDestroyNotify)sync_item_free);
  g_queue_init(&pipe->items);
  pipe->bytes = 0;
  g_cond_broadcast(&pipe->changed);
  g_mutex_unlock(&pipe->lock);
}
