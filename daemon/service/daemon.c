/* daemon/service/daemon.c: `keel daemon [--once]`, the main loop.
 *
 * Phases: options -> config -> store -> signals -> timers -> READY=1 -> main
 * loop -> STOPPING=1. Two kinds of timer, and nothing else starts work:
 *   - one poll timer per account; when it fires, the account's cycle
 *     (sync_account(), blocking libcurl I/O) runs in a worker thread (GTask),
 *     so a slow or dead server delays only its own account. After a failed
 *     cycle the next one waits sync_backoff_seconds(); after a good one,
 *     poll_interval.
 *   - one housekeeping timer (Redis's serverCron): every second it looks at
 *     what is due, each job on its own period (daemon_housekeeping_jobs[]),
 *     and runs the due ones in one worker thread, one pass at a time: the
 *     digest (queued when `[digest] at` has come) and the outbox (rows left
 *     in flight, then due replies and retries). It does not wait for IMAP:
 *     with the IMAP server down the digest, whose health section reports the
 *     outage, and queued retries still go out. A cycle that stored mail
 *     makes the outbox due at once (a new reply need not wait its period).
 * The store is one SQLite connection shared by the workers under one mutex,
 * held only around store calls: never across SMTP or IMAP, so a stalled
 * SMTP server never holds up ingest (the outbox claims a row in one short
 * transaction, sends unlocked, and records the outcome in another).
 *
 * Rules: loaded at start from the config's rules directory, on a thread of
 * their own ("keel-rules") while the store opens and the cycles log in and
 * fetch (issue 19: compiling them is a third of a 1,000-message initial
 * sync); whoever needs them first (a cycle before its first verdict, through
 * pipeline_set_rules_pending(); the digest; a reload) waits for that thread
 * and puts the set in force, or says why it was refused, under the store
 * lock (daemon_rules_settle_locked). Reloaded on SIGHUP and when a file in
 * that directory changes. A set with any error is
 * refused whole and the one in force stays (the error is logged). The swap
 * happens under the store lock, so no message is scored half by each set.
 *
 * SIGHUP also reads the config file again (config_load(): duplicate keys and
 * sections refused as at start). A config with any error is refused whole
 * and the one in force stays (logged); the rules are still reloaded. The
 * workers borrow the config (accounts, pipeline, sync context), so a good
 * new one waits until no cycle and no housekeeping pass is running (none
 * starts meanwhile); then the IDLE watches and poll timers stop, the
 * accounts and the pipeline are built again from it, the rules are loaded
 * from its rules directory, and every account polls at once. A changed
 * `database` cannot be swapped live: the store in use stays, and the log
 * says a restart is needed.
 *
 * systemd (notify.c; Type=notify): READY=1 once config and database are
 * open and the rules loading; STATUS= after each cycle and pass when it changes ("polling 2
 * accounts; 14 messages today; next digest 08:00; account main: login
 * failed, retry in 60 s"); WATCHDOG=1 every WATCHDOG_USEC/2 while work is
 * progressing; RELOADING=1 on SIGHUP, then READY=1 once the reload is done,
 * whether the new config was taken or refused; STOPPING=1 on SIGTERM.
 * Watchdog (watchdog.c): each cycle and each housekeeping pass counts its
 * steps (a folder checked, a message fetched, a batch stored, an outbox row
 * handled). Work that has made no step for WATCHDOG_STALL_FACTOR (3) x
 * (connect_timeout + 4 x read_timeout) of its account (the longest the
 * accounts allow, for a pass; 405 s with the defaults), longer than any
 * transfer libcurl lets run, is stuck: the ping is withheld, STATUS says
 * which, and systemd restarts keel once WatchdogSec= passes. Tests shorten
 * the bound with $KEEL_TEST_STALL_SECONDS.
 *
 * SIGTERM/SIGINT: no new cycle or pass starts, transfers in flight (IMAP
 * fetch, SMTP, IMAP APPEND) are aborted within about a second, a message
 * being stored is committed first, and keel exits 0 once every worker is
 * back. --once: one cycle of every account at the same time, then one
 * housekeeping pass whatever the cycles gave; exit 0 when all cycles
 * succeeded, EX_TEMPFAIL if not.
 * Must not: block the main loop, start a second cycle of an account or a
 * second housekeeping pass while one is running, or swap the config while a
 * worker holds it. */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "keel-imap"

#include <signal.h>
#include <stdio.h>
#include <glib-unix.h>
#include <systemd/sd-daemon.h>
#include "daemon/base/commands.h"
#include "daemon/base/crash.h"
#include "daemon/base/config.h"
#include "daemon/digest/digest.h"
#include "daemon/mail/imap.h"
#include "daemon/mail/idle.h"
#include "daemon/outbox/outbox.h"
#include "daemon/payments/payments.h"
#include "daemon/store/store.h"
#include "daemon/ingest/sync.h"
#include "daemon/record/corrections.h"
#include "daemon/record/verdict.h"
#include "daemon/service/notify.h"
#include "daemon/service/watchdog.h"

typedef struct Daemon Daemon;

/* The first rule set, loaded on the "keel-rules" thread (verdict_load_rules()). */
typedef struct {
  char *dir;                           /* owned: the config's rules directory */
  RuleSet *rules;                      /* owned until taken; NULL: refused */
  InstructionRules *instruction_rules; /* owned until taken */
  GError *error;                       /* owned: why they were refused */
} DaemonRulesLoad;

typedef struct {
  Daemon *daemon;             /* borrowed */
  const KeelAccount *account; /* borrowed from daemon->config */
  guint failures;             /* consecutive failed cycles */
  guint timer;                /* pending poll timer, 0 = none */
  gboolean running;
  guint stored;               /* messages the last cycle stored (set by its worker) */
  gint64 today;               /* messages stored today, counted by its worker (-1 = unknown) */
  IdleWatch *idle;            /* owned, NULL = polling only (issue 19) */
  WatchdogProgress progress;  /* steps of the cycle in flight (watchdog.c) */
  gint64 stall_bound;         /* usec without a step that count as stuck */
  char *problem;              /* owned: the STATUS words for the last failure, NULL = none */
  gboolean retired;           /* its config was replaced: ignore its late callbacks */
} DaemonAccount;

struct Daemon {
  KeelConfig *config;        /* owned */
  Store *store;              /* owned */
  Pipeline *pipeline;        /* owned */
  RuleSet *rules;            /* owned, NULL until a set loads: mail stored unscored */
  InstructionRules *instruction_rules; /* owned, NULL with rules */
  GFileMonitor *rules_monitor; /* owned, may be NULL */
  guint rules_reload_timer;  /* pending reload after a file change, 0 = none */
  char *rules_error;         /* owned: why the last reload failed, NULL = it did not */
  GThread *rules_thread;     /* owned: the first set loading, NULL once joined */
  DaemonRulesLoad *rules_load; /* owned: the first set, NULL once taken (under store_lock) */
  GMutex store_lock;
  GCancellable *cancellable; /* owned */
  GMainLoop *loop;           /* owned */
  GPtrArray *accounts;       /* owned, of DaemonAccount* */
  gboolean once;
  GDateTime *now_override;   /* owned: --now (a simulated time), NULL = the clock */
  gboolean stopping;
  guint running;             /* cycles in flight */
  guint failed;              /* cycles that failed */
  guint housekeeping_timer;  /* the one housekeeping timer, 0 = none */
  gboolean housekeeping_running;
  gint64 last_run[2];        /* monotonic time each housekeeping job last ran, 0 = never */
  WatchdogProgress housekeeping_progress; /* steps of the pass in flight */
  char *config_path;         /* owned: the file SIGHUP reads again */
  char *database;            /* owned: the database the store was opened on; a reload
                              * naming another one is warned about, never followed */
  KeelConfig *pending_config; /* owned: a good new config waiting for the workers, NULL = none */
  GPtrArray *retired;        /* owned, of DaemonAccount*: an older config's, kept because a
                              * queued IDLE notification or retry timer may still name one */
  gint64 today;              /* messages stored today (the workers count), -1 = unknown */
  char *stuck;               /* owned: what the watchdog found stuck, NULL = nothing */
  char *status;              /* owned: the STATUS text last sent */
  gboolean stopping_sent;    /* STOPPING=1 went out */
};

/* The housekeeping jobs, each on its own period (seconds). */
typedef enum { DAEMON_JOB_DIGEST, DAEMON_JOB_OUTBOX } DaemonJob;
static const guint daemon_job_period[] = {
  [DAEMON_JOB_DIGEST] = 60, /* checks `[digest] at`: the digest goes within a minute of it */
  [DAEMON_JOB_OUTBOX] = 30, /* due replies and retries (backoff is at least a minute) */
};

static void daemon_rules_settle_locked(gpointer user_data);

/* Queues the daily digest when it is due (under the store lock). */
static void daemon_run_digest(Daemon *daemon, GDateTime *now)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&daemon->store_lock);
  daemon_rules_settle_locked(daemon);
  g_autoptr(GError) error = NULL;
  DigestOptions digest;
  digest_options_from_config(&digest, daemon->config);
  digest.rules = daemon->rules;
  digest.rules_error = daemon->rules_error;
  if (digest_run_if_due(daemon->store, daemon->config, &digest, now, &error)) {
    g_message("digest queued");
    keel_crash_point("after-digest-queued");
  } else if (error) {
    g_warning("digest: %s", error->message);
  }
}

/* Plans the payment chases that are due (daemon/payments/), under the store
 * lock, before the outbox runs so a chase planned now goes out in this pass. */
static void daemon_run_chases(Daemon *daemon, GDateTime *now)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&daemon->store_lock);
  if (!payments_plan_due(daemon->store, daemon->config, now, NULL, &error))
    g_warning("payments: %s", error->message);
}

/* Sends or drafts what the outbox holds and is due. The store lock is taken
 * by outbox_run() around each store call only. A failure is logged: the
 * rows stay and the next pass tries again. */
static void daemon_run_outbox(Daemon *daemon, GDateTime *now)
{
  OutboxSettings settings = { .store_lock = &daemon->store_lock,
                              .cancellable = daemon->cancellable,
                              .progress = &daemon->housekeeping_progress.steps };
  OutboxRunStats stats = { 0 };
  g_autoptr(GError) error = NULL;
  if (!outbox_run(daemon->store, daemon->config, &settings, now, &stats, &error))
    g_warning("outbox: %s", error->message);
  else if (stats.sent + stats.drafted + stats.tempfailed + stats.failed + stats.reconciled
           + stats.requeued + stats.uncertain + stats.filed)
    g_message("outbox: %u sent, %u drafted, %u delayed, %u failed, %u reconciled, "
              "%u queued again, %u uncertain, %u copied to Sent", stats.sent, stats.drafted,
              stats.tempfailed, stats.failed, stats.reconciled, stats.requeued, stats.uncertain,
              stats.filed);
}

typedef struct {
  Daemon *daemon; /* borrowed */
  guint jobs;     /* bits: 1 << DaemonJob */
} DaemonPass;

/* Messages stored since midnight in the VA's zone, for STATUS; -1 when the
 * store fails. In a worker thread: takes the store lock. */
static gint64 daemon_count_today(Daemon *daemon)
{
  g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(daemon->config->timezone);
  if (!tz)
    tz = g_time_zone_new_utc();
  g_autoptr(GDateTime) now = g_date_time_new_now(tz);
  int y, m, d;
  g_date_time_get_ymd(now, &y, &m, &d);
  g_autoptr(GDateTime) midnight = g_date_time_new(g_date_time_get_timezone(now), y, m, d, 0, 0, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&daemon->store_lock);
  gint64 count = store_messages_count_since(daemon->store, midnight, &error);
  if (count < 0)
    g_debug("status: %s", error->message);
  return count;
}

/* One housekeeping pass, in a worker thread: the jobs of the DaemonPass. */
static void daemon_housekeeping_thread(GTask *task, gpointer source, gpointer task_data,
                                       GCancellable *cancellable)
{
  (void)source, (void)cancellable;
  const DaemonPass *pass = task_data;
  Daemon *daemon = pass->daemon;
  guint jobs = pass->jobs;
  /* --now: a simulated time (a month of chases in seconds, tests) */
  g_autoptr(GDateTime) now = daemon->now_override ? g_date_time_ref(daemon->now_override)
                                                  : g_date_time_new_now_utc();
  if (jobs & (1u << DAEMON_JOB_DIGEST))
    daemon_run_digest(daemon, now);
  watchdog_bump(&daemon->housekeeping_progress.steps);
  if (jobs & (1u << DAEMON_JOB_OUTBOX)) {
    daemon_run_chases(daemon, now);
    watchdog_bump(&daemon->housekeeping_progress.steps);
    daemon_run_outbox(daemon, now);
  }
  g_task_return_int(task, (gssize)daemon_count_today(daemon));
}

static void daemon_cycle_thread(GTask *task, gpointer source, gpointer task_data,
                                GCancellable *cancellable)
{
  (void)source, (void)cancellable;
  DaemonAccount *account = task_data;
  Daemon *daemon = account->daemon;
  SyncContext context = { .config = daemon->config, .store = daemon->store,
                          .pipeline = daemon->pipeline,
                          .store_lock = &daemon->store_lock, .cancellable = daemon->cancellable,
                          .progress = &account->progress.steps };
  SyncStats stats;
  GError *error = NULL;
  gint64 start = g_get_monotonic_time();
  gboolean ok = sync_account(&context, account->account, &stats, &error);
  account->today = daemon_count_today(daemon);
  if (!ok) {
    g_task_return_error(task, error);
    return;
  }
  g_message("account '%s': polled %u folders, %u new, %u already stored, %u skipped, "
            "%u IMAP commands, %.0f ms", account->account->name, stats.folders, stats.stored,
            stats.duplicates, stats.skipped, stats.commands,
            (double)(g_get_monotonic_time() - start) / 1000.0);
  account->stored = stats.stored;
  g_task_return_boolean(task, TRUE);
}

static gboolean daemon_poll_due(gpointer user_data);
static void daemon_start_idle(DaemonAccount *account); /* issue 19 */

static void daemon_schedule(DaemonAccount *account, const GError *error)
{
  guint delay = account->account->poll_interval;
  if (error && sync_error_is_folder_only(error)) {
    g_warning("%s; next poll in %u s", error->message, delay);
  } else if (error) {
    gboolean wait = mail_error_retry(error) == MAIL_RETRY_WAIT;
    delay = sync_backoff_seconds(account->failures, wait, delay);
    g_warning("%s; next attempt in %u s", error->message, delay);
  }
  g_clear_pointer(&account->problem, g_free);
  if (error)
    account->problem = notify_problem_text(account->account->name, error, delay);
  account->timer = g_timeout_add_seconds(delay, daemon_poll_due, account);
}

static void daemon_housekeeping_start(Daemon *daemon, guint jobs);
static void daemon_quit_when_idle(Daemon *daemon);
static void daemon_apply_when_idle(Daemon *daemon);
static void daemon_update_status(Daemon *daemon, gboolean force);

static void daemon_cycle_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
  (void)source;
  DaemonAccount *account = user_data;
  Daemon *daemon = account->daemon;
  g_autoptr(GError) error = NULL;
  account->running = FALSE;
  daemon->running--;
  watchdog_end(&account->progress);
  if (account->today >= 0)
    daemon->today = account->today;
  if (g_task_propagate_boolean(G_TASK(result), &error)) {
    account->failures = 0;
    if (account->stored > 0)
      daemon->last_run[DAEMON_JOB_OUTBOX] = 0; /* a reply may be queued: due now */
    daemon_start_idle(account); /* issue 19 */
  } else {
    account->failures = sync_error_is_folder_only(error) ? 0 : account->failures + 1;
    daemon->failed++;
  }
  if (daemon->once || daemon->stopping) {
    if (error)
      g_warning("%s", error->message);
    if (daemon->once && !daemon->stopping && daemon->running == 0)
      daemon_housekeeping_start(daemon, (1u << DAEMON_JOB_DIGEST) | (1u << DAEMON_JOB_OUTBOX));
    daemon_quit_when_idle(daemon);
    return;
  }
  if (daemon->pending_config) {
    if (error)
      g_warning("%s", error->message);
    daemon_apply_when_idle(daemon); /* the account is rebuilt: no timer for this one */
    return;
  }
  daemon_schedule(account, error);
  daemon_update_status(daemon, FALSE);
}

static void daemon_start_cycle(DaemonAccount *account)
{
  if (account->running || account->retired || account->daemon->stopping
      || account->daemon->pending_config)
    return;
  account->running = TRUE;
  account->daemon->running++;
  watchdog_begin(&account->progress, g_get_monotonic_time());
  g_autoptr(GTask) task = g_task_new(NULL, NULL, daemon_cycle_done, account);
  g_task_set_task_data(task, account, NULL);
  g_task_run_in_thread(task, daemon_cycle_thread);
}

static gboolean daemon_poll_due(gpointer user_data)
{
  DaemonAccount *account = user_data;
  account->timer = 0;
  daemon_start_cycle(account);
  return G_SOURCE_REMOVE;
}

/* --once and SIGTERM: leave the loop when no cycle and no pass is running
 * (with --once, only after the housekeeping pass has run). */
static void daemon_quit_when_idle(Daemon *daemon)
{
  if (daemon->running > 0 || daemon->housekeeping_running)
    return;
  if (daemon->stopping || (daemon->once && daemon->last_run[DAEMON_JOB_OUTBOX] != 0))
    g_main_loop_quit(daemon->loop);
}

static void daemon_housekeeping_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
  (void)source;
  Daemon *daemon = user_data;
  daemon->housekeeping_running = FALSE;
  watchdog_end(&daemon->housekeeping_progress);
  gint64 today = (gint64)g_task_propagate_int(G_TASK(result), NULL);
  if (today >= 0)
    daemon->today = today;
  if (daemon->once || daemon->stopping) {
    daemon_quit_when_idle(daemon);
    return;
  }
  daemon_apply_when_idle(daemon);
  daemon_update_status(daemon, FALSE);
}

/* Starts a pass of `jobs` in a worker thread (unless one is running). */
static void daemon_housekeeping_start(Daemon *daemon, guint jobs)
{
  if (daemon->housekeeping_running || daemon->stopping || daemon->pending_config || jobs == 0)
    return;
  gint64 now = g_get_monotonic_time();
  for (guint job = 0; job < G_N_ELEMENTS(daemon_job_period); job++)
    if (jobs & (1u << job))
      daemon->last_run[job] = MAX(now, 1);
  daemon->housekeeping_running = TRUE;
  watchdog_begin(&daemon->housekeeping_progress, now);
  DaemonPass *pass = g_new0(DaemonPass, 1);
  pass->daemon = daemon;
  pass->jobs = jobs;
  g_autoptr(GTask) task = g_task_new(NULL, NULL, daemon_housekeeping_done, daemon);
  g_task_set_task_data(task, pass, g_free);
  g_task_run_in_thread(task, daemon_housekeeping_thread);
}

/* The housekeeping timer, every second: starts the jobs whose period has
 * passed (run_with_period), never waiting for IMAP. */
static gboolean daemon_housekeeping_tick(gpointer user_data)
{
  Daemon *daemon = user_data;
  if (daemon->stopping) {
    daemon->housekeeping_timer = 0;
    return G_SOURCE_REMOVE;
  }
  gint64 now = g_get_monotonic_time();
  guint jobs = 0;
  for (guint job = 0; job < G_N_ELEMENTS(daemon_job_period); job++)
    if (daemon->last_run[job] == 0
        || now - daemon->last_run[job] >= (gint64)daemon_job_period[job] * G_USEC_PER_SEC)
      jobs |= 1u << job;
  daemon_housekeeping_start(daemon, jobs);
  return G_SOURCE_CONTINUE;
}

static gboolean daemon_idle_retry(gpointer user_data);

/* IMAP IDLE (issue 19): the server pushed new mail; poll now, or once the
 * cycle in flight is over (checked every second). */
static void daemon_on_idle_news(gpointer user_data)
{
  DaemonAccount *account = user_data;
  if (account->daemon->stopping || account->retired)
    return;
  if (account->running || !account->timer) {
    g_timeout_add_seconds(1, daemon_idle_retry, account);
    return;
  }
  g_source_remove(account->timer);
  daemon_poll_due(account);
}

static gboolean daemon_idle_retry(gpointer user_data)
{
  daemon_on_idle_news(user_data);
  return G_SOURCE_REMOVE;
}

/* After the first good cycle (so a wrong password costs one login, not two). */
static void daemon_start_idle(DaemonAccount *account)
{
  if (!account->idle && account->account->idle && !account->daemon->once
      && !account->daemon->stopping && !account->daemon->pending_config)
    account->idle = idle_watch_start(account->account, daemon_on_idle_news, account);
}

/* STOPPING=1, once (SIGTERM and the end of --once both come here). */
static void daemon_notify_stopping(Daemon *daemon)
{
  if (daemon->stopping_sent)
    return;
  daemon->stopping_sent = TRUE;
  notify_send("STOPPING=1");
}

/* Stops the account's poll timer and IDLE watch (the main loop only). */
static void daemon_account_quiet(DaemonAccount *account)
{
  if (account->timer)
    g_source_remove(account->timer);
  account->timer = 0;
  g_clear_pointer(&account->idle, idle_watch_stop); /* issue 19 */
}

static void daemon_account_free(gpointer data)
{
  DaemonAccount *account = data;
  g_free(account->problem);
  g_free(account);
}

static gboolean daemon_on_stop_signal(gpointer user_data)
{
  Daemon *daemon = user_data;
  if (!daemon->stopping)
    g_message("stopping: finishing the message in hand (%u account(s) busy)", daemon->running);
  daemon->stopping = TRUE;
  daemon_notify_stopping(daemon);
  g_cancellable_cancel(daemon->cancellable);
  for (guint i = 0; i < daemon->accounts->len; i++)
    daemon_account_quiet(g_ptr_array_index(daemon->accounts, i));
  if (daemon->housekeeping_timer)
    g_source_remove(daemon->housekeeping_timer);
  daemon->housekeeping_timer = 0;
  daemon_quit_when_idle(daemon);
  return G_SOURCE_CONTINUE;
}

/* Puts a loaded set in force (the store lock held: no message is scored
 * half by each set), or, when it was refused (`rules` NULL), keeps the set
 * in force and says why. Takes `rules` and `instruction_rules`. */
static void daemon_take_rules_locked(Daemon *daemon, const char *dir, RuleSet *rules,
                                     InstructionRules *instruction_rules, const GError *refusal)
{
  if (!rules) {
    g_warning("rules in %s refused, the rules in force stay:\n%s", dir, refusal->message);
    g_free(daemon->rules_error);
    daemon->rules_error = g_strdup(refusal->message);
    return;
  }
  g_autoptr(GError) error = NULL;
  if (!corrections_load(daemon->store, rules, &error))
    g_warning("the VA's corrections to the learned signals are not in force: %s", error->message);
  g_clear_pointer(&daemon->rules_error, g_free);
  pipeline_set_rules(daemon->pipeline, rules, instruction_rules);
  g_clear_pointer(&daemon->rules, rules_free);
  g_clear_pointer(&daemon->instruction_rules, instruction_rules_free);
  daemon->rules = rules;
  daemon->instruction_rules = instruction_rules;
  g_message("rules loaded from %s: %u rules in %u files", dir, rules_count(rules),
            rules_file_count(rules));
}

static gpointer daemon_rules_load_thread(gpointer data)
{
  DaemonRulesLoad *load = data;
  verdict_load_rules(load->dir, &load->rules, &load->instruction_rules, &load->error);
  return load;
}

static void daemon_rules_load_free(DaemonRulesLoad *load)
{
  g_free(load->dir);
  rules_free(load->rules);
  instruction_rules_free(load->instruction_rules);
  g_clear_error(&load->error);
  g_free(load);
}

/* Starts loading the first rule set on the "keel-rules" thread (on this one
 * when no thread can be made); daemon_rules_settle_locked() takes it. */
static void daemon_rules_start_load(Daemon *daemon)
{
  daemon->rules_load = g_new0(DaemonRulesLoad, 1);
  daemon->rules_load->dir = g_strdup(daemon->config->rules);
  g_autoptr(GError) error = NULL;
  daemon->rules_thread = g_thread_try_new("keel-rules", daemon_rules_load_thread,
                                          daemon->rules_load, &error);
  if (!daemon->rules_thread) {
    g_debug("rules loaded without a thread of their own: %s", error->message);
    daemon_rules_load_thread(daemon->rules_load);
  }
}

/* Waits for the first rule set, when it is still loading, and puts it in
 * force (or says why not): the cycles' PipelineRulesWait, the digest and
 * reloads, always with the store lock held (which makes the first caller the
 * only one). Then the pipeline scores with it. */
static void daemon_rules_settle_locked(gpointer user_data)
{
  Daemon *daemon = user_data;
  if (daemon->rules_thread)
    g_thread_join(g_steal_pointer(&daemon->rules_thread));
  if (!daemon->rules_load)
    return;
  DaemonRulesLoad *load = g_steal_pointer(&daemon->rules_load);
  daemon_take_rules_locked(daemon, load->dir, g_steal_pointer(&load->rules),
                           g_steal_pointer(&load->instruction_rules), load->error);
  if (!daemon->rules)
    g_warning("no rules in force: new mail is stored unscored and never answered "
              "(fix the rules, then SIGHUP and keel rescore)");
  pipeline_set_rules(daemon->pipeline, daemon->rules, daemon->instruction_rules);
  daemon_rules_load_free(load);
}

/* Loads the rule set again; swaps it in only when all of it compiles. */
static void daemon_reload_rules(Daemon *daemon)
{
  RuleSet *rules = NULL;
  InstructionRules *instruction_rules = NULL;
  g_autoptr(GError) error = NULL;
  verdict_load_rules(daemon->config->rules, &rules, &instruction_rules, &error);
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&daemon->store_lock);
  daemon_rules_settle_locked(daemon); /* the first set, when still loading, comes first */
  daemon_take_rules_locked(daemon, daemon->config->rules, rules, instruction_rules, error);
}

static gboolean daemon_rules_reload_due(gpointer user_data)
{
  Daemon *daemon = user_data;
  daemon->rules_reload_timer = 0;
  daemon_reload_rules(daemon);
  return G_SOURCE_REMOVE;
}

/* A file in the rules directory changed: reload once things settle (an
 * editor saves in several steps). */
static void daemon_on_rules_changed(GFileMonitor *monitor, GFile *file, GFile *other,
                                    GFileMonitorEvent event, gpointer user_data)
{
  (void)monitor, (void)file, (void)other, (void)event;
  Daemon *daemon = user_data;
  if (daemon->rules_reload_timer)
    g_source_remove(daemon->rules_reload_timer);
  daemon->rules_reload_timer = g_timeout_add_seconds(2, daemon_rules_reload_due, daemon);
}

static void daemon_watch_rules(Daemon *daemon)
{
  g_autoptr(GFile) dir = g_file_new_for_path(daemon->config->rules);
  g_autoptr(GError) error = NULL;
  daemon->rules_monitor = g_file_monitor_directory(dir, G_FILE_MONITOR_NONE, NULL, &error);
  if (!daemon->rules_monitor) {
    g_warning("not watching %s for changes (SIGHUP still reloads): %s", daemon->config->rules,
              error->message);
    return;
  }
  g_signal_connect(daemon->rules_monitor, "changed", G_CALLBACK(daemon_on_rules_changed), daemon);
}

/* The next digest time in the VA's zone, NULL without `[digest] at`. */
static GDateTime *daemon_next_digest(Daemon *daemon)
{
  if (!daemon->config->digest_at)
    return NULL;
  g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(daemon->config->timezone);
  if (!tz)
    tz = g_time_zone_new_utc();
  g_autoptr(GDateTime) now = daemon->now_override ? g_date_time_ref(daemon->now_override)
                                                  : g_date_time_new_now_utc();
  GDateTime *next = digest_next_run(now, daemon->config->digest_at, tz);
  if (!next)
    return NULL;
  GDateTime *local = g_date_time_to_timezone(next, tz);
  g_date_time_unref(next);
  return local;
}

/* Sends STATUS= when its text changed (always with `force`). Never once
 * stopping: STOPPING=1 is the last word. */
static void daemon_update_status(Daemon *daemon, gboolean force)
{
  if (daemon->stopping)
    return;
  g_autoptr(GPtrArray) problems = g_ptr_array_new();
  for (guint i = 0; i < daemon->accounts->len; i++) {
    DaemonAccount *account = g_ptr_array_index(daemon->accounts, i);
    if (account->problem)
      g_ptr_array_add(problems, account->problem);
  }
  if (daemon->stuck)
    g_ptr_array_add(problems, daemon->stuck);
  g_autoptr(GDateTime) next_digest = daemon_next_digest(daemon);
  NotifyStatus status = { .accounts = daemon->accounts->len, .today = daemon->today,
                          .next_digest = next_digest, .problems = problems,
                          .state = daemon->pending_config ? "reload waiting for the work in "
                                                            "flight; polling" : NULL };
  g_autofree char *text = notify_status_text(&status);
  if (!force && g_strcmp0(text, daemon->status) == 0)
    return;
  notify_status(text);
  g_free(daemon->status);
  daemon->status = g_steal_pointer(&text);
}

/* What has made no step for longer than its stall bound, or NULL. New string. */
static char *daemon_find_stuck(Daemon *daemon)
{
  gint64 now = g_get_monotonic_time();
  for (guint i = 0; i < daemon->accounts->len; i++) {
    DaemonAccount *account = g_ptr_array_index(daemon->accounts, i);
    gint64 idle = watchdog_idle_usec(&account->progress, now);
    if (idle > account->stall_bound)
      return g_strdup_printf("account %s: poll stuck, no progress for %" G_GINT64_FORMAT " s",
                             account->account->name, idle / G_USEC_PER_SEC);
  }
  gint64 idle = watchdog_idle_usec(&daemon->housekeeping_progress, now);
  if (idle > watchdog_stall_bound(daemon->config, NULL))
    return g_strdup_printf("housekeeping (digest, outbox) stuck, no progress for %" G_GINT64_FORMAT
                           " s", idle / G_USEC_PER_SEC);
  return NULL;
}

/* Every WATCHDOG_USEC/2: WATCHDOG=1 unless some work is stuck (then systemd
 * restarts keel once WatchdogSec= passes without a ping). */
static gboolean daemon_on_watchdog(gpointer user_data)
{
  Daemon *daemon = user_data;
  g_autofree char *stuck = daemon_find_stuck(daemon);
  if (stuck && !daemon->stuck)
    g_warning("%s: watchdog ping withheld, systemd restarts keel after WatchdogSec", stuck);
  else if (!stuck && daemon->stuck)
    g_message("work is progressing again: watchdog pings resume");
  if (g_strcmp0(stuck, daemon->stuck) != 0) {
    g_free(daemon->stuck);
    daemon->stuck = g_steal_pointer(&stuck);
    daemon_update_status(daemon, FALSE);
  }
  if (!daemon->stuck)
    notify_send("WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

/* One DaemonAccount per [account] with an imap URL of the config in force. */
static void daemon_add_accounts(Daemon *daemon)
{
  for (guint i = 0; i < daemon->config->accounts->len; i++) {
    const KeelAccount *account = g_ptr_array_index(daemon->config->accounts, i);
    if (!account->imap)
      continue;
    DaemonAccount *entry = g_new0(DaemonAccount, 1);
    entry->daemon = daemon;
    entry->account = account;
    entry->today = -1;
    entry->stall_bound = watchdog_stall_bound(daemon->config, account);
    g_ptr_array_add(daemon->accounts, entry);
  }
}

/* Reads the config file again for SIGHUP: NULL with `error` when it has an
 * error or no account to poll. A changed database path is only warned about:
 * the store stays on daemon->database until a restart. */
static KeelConfig *daemon_load_config(Daemon *daemon, GError **error)
{
  g_autoptr(KeelConfig) config = config_load(daemon->config_path, error);
  if (!config)
    return NULL;
  gboolean polled = FALSE;
  for (guint i = 0; i < config->accounts->len; i++)
    polled |= ((const KeelAccount *)g_ptr_array_index(config->accounts, i))->imap != NULL;
  if (!polled) {
    g_set_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_INVALID,
                "%s: no [account] has an imap URL: nothing to poll", daemon->config_path);
    return NULL;
  }
  if (g_strcmp0(config->database, daemon->database) != 0)
    g_warning("%s: database changed from %s to %s: keel keeps using %s until it is "
              "restarted (systemctl restart keel)", daemon->config_path, daemon->database,
              config->database, daemon->database);
  return g_steal_pointer(&config);
}

/* READY=1 again after RELOADING=1, and a fresh STATUS. */
static void daemon_reloaded(Daemon *daemon)
{
  notify_send("READY=1");
  daemon_update_status(daemon, TRUE);
}

/* Swaps the pending config in (no worker holds the old one): the old
 * accounts retire, the pipeline and accounts are built again, the rules come
 * from the new rules directory, and every account polls at once. */
static void daemon_apply_config(Daemon *daemon)
{
  g_autoptr(KeelConfig) old = daemon->config;
  for (guint i = 0; i < daemon->accounts->len; i++) {
    DaemonAccount *account = g_ptr_array_index(daemon->accounts, i);
    daemon_account_quiet(account);
    account->retired = TRUE;
  }
  g_ptr_array_extend_and_steal(daemon->retired, g_steal_pointer(&daemon->accounts));
  daemon->accounts = g_ptr_array_new_with_free_func(daemon_account_free);
  g_clear_pointer(&daemon->pipeline, pipeline_free);
  daemon->config = g_steal_pointer(&daemon->pending_config);
  daemon->pipeline = pipeline_new(daemon->config, daemon->store);
  pipeline_set_rules(daemon->pipeline, daemon->rules, daemon->instruction_rules);
  daemon_reload_rules(daemon);
  if (g_strcmp0(old->rules, daemon->config->rules) != 0) {
    g_clear_object(&daemon->rules_monitor);
    daemon_watch_rules(daemon);
  }
  daemon_add_accounts(daemon);
  g_message("config reloaded from %s: %u account(s) to poll", daemon->config_path,
            daemon->accounts->len);
  daemon_reloaded(daemon);
  for (guint i = 0; i < daemon->accounts->len; i++)
    daemon_start_cycle(g_ptr_array_index(daemon->accounts, i));
}

/* Applies the pending config when nothing borrows the one in force. */
static void daemon_apply_when_idle(Daemon *daemon)
{
  if (!daemon->pending_config || daemon->stopping)
    return;
  if (daemon->running > 0 || daemon->housekeeping_running) {
    g_message("config reload waits for %u cycle(s)%s in flight", daemon->running,
              daemon->housekeeping_running ? " and the housekeeping pass" : "");
    daemon_update_status(daemon, FALSE);
    return;
  }
  daemon_apply_config(daemon);
}

/* SIGHUP: RELOADING=1, the config file read again (a bad one is refused and
 * the rules alone reloaded), READY=1 once done. */
static gboolean daemon_on_hangup(gpointer user_data)
{
  Daemon *daemon = user_data;
  if (daemon->stopping || daemon->once)
    return G_SOURCE_CONTINUE;
  notify_reloading();
  g_message("SIGHUP: reloading %s and the rules", daemon->config_path);
  g_autoptr(GError) error = NULL;
  KeelConfig *config = daemon_load_config(daemon, &error);
  if (!config) {
    g_warning("config refused, the config in force stays:\n%s", error->message);
    daemon_reload_rules(daemon);
    daemon_reloaded(daemon);
    return G_SOURCE_CONTINUE;
  }
  g_clear_pointer(&daemon->pending_config, config_free);
  daemon->pending_config = config;
  daemon_apply_when_idle(daemon);
  return G_SOURCE_CONTINUE;
}

static void daemon_free(Daemon *daemon)
{
  if (daemon->rules_thread) /* start-up failed: the first set is never used */
    g_thread_join(g_steal_pointer(&daemon->rules_thread));
  g_clear_pointer(&daemon->rules_load, daemon_rules_load_free);
  if (daemon->housekeeping_timer)
    g_source_remove(daemon->housekeeping_timer);
  g_clear_pointer(&daemon->accounts, g_ptr_array_unref);
  g_clear_pointer(&daemon->retired, g_ptr_array_unref);
  g_clear_pointer(&daemon->loop, g_main_loop_unref);
  g_clear_object(&daemon->cancellable);
  if (daemon->rules_reload_timer)
    g_source_remove(daemon->rules_reload_timer);
  g_clear_object(&daemon->rules_monitor);
  g_clear_pointer(&daemon->pipeline, pipeline_free);
  g_clear_pointer(&daemon->rules, rules_free);
  g_clear_pointer(&daemon->instruction_rules, instruction_rules_free);
  g_clear_pointer(&daemon->rules_error, g_free);
  g_clear_pointer(&daemon->store, store_close);
  g_clear_pointer(&daemon->pending_config, config_free);
  g_clear_pointer(&daemon->config, config_free);
  g_clear_pointer(&daemon->config_path, g_free);
  g_clear_pointer(&daemon->database, g_free);
  g_clear_pointer(&daemon->stuck, g_free);
  g_clear_pointer(&daemon->status, g_free);
  g_clear_pointer(&daemon->now_override, g_date_time_unref);
  g_mutex_clear(&daemon->store_lock);
  g_free(daemon);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Daemon, daemon_free)

/* Config and store, or a sysexits code after a one-line error. */
static int daemon_open(Daemon *daemon, const KeelGlobals *globals)
{
  daemon->config_path = config_resolve_path(globals->config_path);
  g_autoptr(GError) error = NULL;
  daemon->config = config_load(daemon->config_path, &error);
  if (!daemon->config) {
    fprintf(stderr, "keel daemon: %s\n", error->message);
    return EX_CONFIG;
  }
  daemon_rules_start_load(daemon);
  daemon->database = g_strdup(daemon->config->database);
  daemon->store = store_open(daemon->database, &error);
  if (!daemon->store) {
    fprintf(stderr, "keel daemon: %s\n", error->message);
    return EX_CANTCREAT;
  }
  daemon->pipeline = pipeline_new(daemon->config, daemon->store);
  pipeline_set_rules_pending(daemon->pipeline, daemon_rules_settle_locked, daemon);
  daemon_add_accounts(daemon);
  if (daemon->accounts->len == 0) {
    fprintf(stderr, "keel daemon: %s: no [account] has an imap URL: nothing to poll\n",
            daemon->config_path);
    return EX_CONFIG;
  }
  return EX_OK;
}

static void daemon_install_sources(Daemon *daemon)
{
  g_unix_signal_add(SIGTERM, daemon_on_stop_signal, daemon);
  g_unix_signal_add(SIGINT, daemon_on_stop_signal, daemon);
  g_unix_signal_add(SIGHUP, daemon_on_hangup, daemon);
  if (!daemon->once)
    daemon_watch_rules(daemon);
  guint64 usec = 0;
  if (!daemon->once && sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
    g_timeout_add((guint)MAX(usec / 2000, 1), daemon_on_watchdog, daemon);
  for (guint i = 0; i < daemon->accounts->len; i++)
    daemon_start_cycle(g_ptr_array_index(daemon->accounts, i));
  if (!daemon->once)
    daemon->housekeeping_timer = g_timeout_add_seconds(1, daemon_housekeeping_tick, daemon);
}

static int daemon_run(const KeelGlobals *globals, gboolean once)
{
  g_autoptr(Daemon) daemon = g_new0(Daemon, 1);
  g_mutex_init(&daemon->store_lock);
  daemon->accounts = g_ptr_array_new_with_free_func(daemon_account_free);
  daemon->retired = g_ptr_array_new_with_free_func(daemon_account_free);
  daemon->cancellable = g_cancellable_new();
  daemon->loop = g_main_loop_new(NULL, FALSE);
  daemon->once = once;
  daemon->today = -1;
  if (globals->now && !(daemon->now_override = cli_now(globals)))
    return EX_USAGE;
  int rc = daemon_open(daemon, globals);
  if (rc != EX_OK)
    return rc;
  daemon_install_sources(daemon);
  notify_send("READY=1");
  daemon_update_status(daemon, TRUE);
  g_main_loop_run(daemon->loop);
  daemon_notify_stopping(daemon);
  if (daemon->stopping)
    return EX_OK;
  return daemon->failed ? EX_TEMPFAIL : EX_OK;
}

int cmd_daemon(int argc, char **argv)
{
  gboolean once = FALSE;
  const GOptionEntry entries[] = {
    { "once", 0, 0, G_OPTION_ARG_NONE, &once, "Poll every account once, then exit", NULL },
    { NULL }
  };
  KeelGlobals globals = { 0 };
  int rc = EX_USAGE;
  if (cli_parse_options(&argc, &argv, NULL,
                        "Poll the watched folders and the Sent folder of every [account] and store\n"
                        "new mail (nothing is ever marked read). Each account has its own timer\n"
                        "(poll_interval); failures back off from 30 s to 30 min. The outbox\n"
                        "(every 30 s, and right after new mail) and the digest (checked every\n"
                        "minute) run on their own timer, also while an IMAP server is down.\n"
                        "--once: one cycle of every account, then one outbox and digest pass;\n"
                        "exit 0 when every account succeeded, 75 if not.\n"
                        "SIGHUP: read the config and the rules again; a file with an error is\n"
                        "refused and the one in force stays. A new config is taken once the\n"
                        "polls in flight are done; a changed database needs a restart.\n"
                        "SIGTERM/SIGINT: finish the message in hand, then exit 0.\n"
                        "Under systemd (Type=notify): READY=1, a STATUS= line after each poll,\n"
                        "WATCHDOG=1 only while polls progress (none for 3 x (connect_timeout +\n"
                        "4 x read_timeout) is a stuck keel), RELOADING=1, STOPPING=1.",
                        entries, &globals))
    rc = daemon_run(&globals, once);
  cli_globals_clear(&globals);
  return rc;
}
