/* daemon/cli/cmd-invoice.c: `keel invoice add|paid|list|show|pause|resume|evidence`.
 * Parses the options, calls daemon/payments/ and prints. Money is shown per
 * currency (€1,486.20, £150.00, ¥12,000); --json gives minor units and the
 * ISO 4217 code as well, never a floating-point amount.
 * Must not: change an invoice other than through daemon/payments/ (every
 * change is a trail event). */
#include <stdio.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include "daemon/cli/store-cli.h"
#include "daemon/payments/payments.h"
#include "daemon/record/trail.h"
#include "filters/money.h"
#include "filters/json-out.h"

typedef struct {
  KeelGlobals globals;
  char *database, *currency, *issued, *due, *terms, *date, *amount, *client;
  gboolean overdue, json;
  KeelConfig *config;   /* owned once opened */
  Store *store;         /* owned once opened */
  GDateTime *now;       /* owned once opened */
} InvoiceCommand;

static void cmd_invoice_command_clear(InvoiceCommand *cmd)
{
  cli_globals_clear(&cmd->globals);
  g_free(cmd->database), g_free(cmd->currency), g_free(cmd->issued), g_free(cmd->due);
  g_free(cmd->terms), g_free(cmd->date), g_free(cmd->amount), g_free(cmd->client);
  g_clear_pointer(&cmd->store, store_close);
  g_clear_pointer(&cmd->config, config_free);
  g_clear_pointer(&cmd->now, g_date_time_unref);
}

/* Config (required: clients live there), store and time. */
static int cmd_invoice_open(InvoiceCommand *cmd)
{
  int rc = store_cli_load_config(&cmd->globals, &cmd->config);
  if (rc != EX_OK)
    return rc;
  if (!cmd->config) {
    fprintf(stderr, "keel invoice: no keel.conf found (give --config FILE): clients live there\n");
    return EX_CONFIG;
  }
  cmd->store = store_cli_open(cmd->database, cmd->config, &rc);
  if (!cmd->store)
    return rc;
  cmd->now = cli_now(&cmd->globals);
  return cmd->now ? EX_OK : EX_USAGE;
}

static int cmd_invoice_fail(const GError *error)
{
  fprintf(stderr, "keel invoice: %s\n", error->message);
  if (error->domain == KEEL_PAYMENTS_ERROR)
    return error->code == KEEL_PAYMENTS_ERROR_NOT_FOUND ? EX_NOINPUT
           : error->code == KEEL_PAYMENTS_ERROR_INVALID ? EX_USAGE : EX_DATAERR;
  return store_cli_exit_code(error);
}

/* "open", "paused (dispute)", "promised 2026-10-23", "paid 2026-10-30". */
static char *cmd_invoice_state_text(const StoreInvoiceRow *row)
{
  if (g_strcmp0(row->state, "paid") == 0)
    return g_strdup_printf("paid %s", row->paid_date);
  if (g_strcmp0(row->state, "open") == 0 && row->promise_date)
    return g_strdup_printf("promised %s", row->promise_date);
  if (row->pause_reason)
    return g_strdup_printf("%s (%s)", row->state, row->pause_reason);
  return g_strdup(row->state);
}

static int cmd_invoice_add(InvoiceCommand *cmd, char **args)
{
  PaymentsNewInvoice in = { .client = args[0], .number = args[1], .amount = args[2],
                            .currency = cmd->currency, .issued = cmd->issued, .due = cmd->due,
                            .terms = cmd->terms, .source = "keel invoice add" };
  g_autoptr(GError) error = NULL;
  g_autoptr(StoreInvoiceRow) row = payments_invoice_add(cmd->store, cmd->config, &in, cmd->now,
                                                        &error);
  if (!row)
    return cmd_invoice_fail(error);
  g_autofree char *amount = money_format(row->amount, row->currency);
  printf("invoice %s for %s: %s, issued %s, due %s\n", row->number, row->client_id, amount,
         row->issued, row->due);
  return EX_OK;
}

static int cmd_invoice_paid(InvoiceCommand *cmd, char **args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StoreInvoiceRow) row = payments_invoice_paid(cmd->store, cmd->config, args[0],
                                                         cmd->date, cmd->amount,
                                                         "keel invoice paid", cmd->now, &error);
  if (!row)
    return cmd_invoice_fail(error);
  g_autofree char *left = payments_left_text(row);
  if (g_strcmp0(row->state, "paid") == 0)
    printf("invoice %s paid in full\n", row->number);
  else
    printf("invoice %s part paid: %s left to chase\n", row->number, left);
  return EX_OK;
}

static int cmd_invoice_set_state(InvoiceCommand *cmd, const char *verb, char **args)
{
  gboolean resume = strcmp(verb, "resume") == 0;
  g_autoptr(GError) error = NULL;
  if (!payments_invoice_set_state(cmd->store, args[0], resume ? "open" : "paused",
                                  resume ? NULL : "by the VA", cmd->now, &error))
    return cmd_invoice_fail(error);
  printf("invoice %s: chasing %s\n", args[0], resume ? "resumed" : "paused");
  return EX_OK;
}

static void cmd_invoice_json_row(JsonBuilder *b, const StoreInvoiceRow *row, int overdue)
{
  g_autofree char *amount = money_format(row->amount, row->currency);
  g_autofree char *left = payments_left_text(row);
  json_builder_begin_object(b);
  json_out_string(b, "number", row->number);
  json_out_string(b, "client", row->client_id);
  json_out_int(b, "amount_minor", row->amount);
  json_out_int(b, "paid_minor", row->paid);
  json_out_string(b, "currency", row->currency);
  json_out_string(b, "amount", amount);
  json_out_string(b, "left", left);
  json_out_string(b, "issued", row->issued);
  json_out_string(b, "due", row->due);
  json_out_int(b, "days_overdue", MAX(overdue, 0));
  json_out_string(b, "state", row->state);
  json_out_string(b, "pause_reason", row->pause_reason);
  json_out_string(b, "promise_date", row->promise_date);
  json_out_int(b, "last_step", row->last_step);
  json_builder_end_object(b);
}

static int cmd_invoice_overdue_days(InvoiceCommand *cmd, const StoreInvoiceRow *row)
{
  g_autoptr(GTimeZone) zone = NULL;
  ChaseCalendar cal;
  payments_calendar(cmd->config, config_client_by_name(cmd->config, row->client_id), &cal, &zone);
  return payments_days_overdue(row, &cal, cmd->now);
}

/* The printf width that shows `text` in `columns` characters (a "€" is
 * three bytes but one column). */
static int cmd_invoice_width(const char *text, int columns)
{
  return columns + (int)(strlen(text) - (size_t)g_utf8_strlen(text, -1));
}

static void cmd_invoice_print_rows(InvoiceCommand *cmd, GPtrArray *rows)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_array(b);
  if (!cmd->json)
    printf("%-12s %-12s %14s %14s %-10s %5s  %s\n", "NUMBER", "CLIENT", "AMOUNT", "LEFT", "DUE",
           "LATE", "STATE");
  for (guint i = 0; i < rows->len; i++) {
    const StoreInvoiceRow *row = rows->pdata[i];
    int overdue = cmd_invoice_overdue_days(cmd, row);
    gboolean unpaid = g_strcmp0(row->state, "paid") != 0;
    if (cmd->overdue && (!unpaid || overdue <= 0))
      continue;
    g_autofree char *amount = money_format(row->amount, row->currency);
    g_autofree char *left = payments_left_text(row);
    g_autofree char *state = cmd_invoice_state_text(row);
    if (cmd->json)
      cmd_invoice_json_row(b, row, unpaid ? overdue : 0);
    else
      printf("%-12s %-12s %*s %*s %-10s %5d  %s\n", row->number, row->client_id,
             cmd_invoice_width(amount, 14), amount, cmd_invoice_width(left, 14), left, row->due,
             unpaid ? MAX(overdue, 0) : 0, state);
  }
  json_builder_end_array(b);
  if (cmd->json) {
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
  }
}

static int cmd_invoice_list(InvoiceCommand *cmd)
{
  const char *client_id = NULL;
  if (cmd->client) {
    const KeelClient *client = config_client_by_name(cmd->config, cmd->client);
    if (!client) {
      fprintf(stderr, "keel invoice: no client '%s' in %s\n", cmd->client, cmd->config->path);
      return EX_USAGE;
    }
    client_id = client->id;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = store_invoice_list(cmd->store, client_id, FALSE, &error);
  if (!rows)
    return cmd_invoice_fail(error);
  cmd_invoice_print_rows(cmd, rows);
  return EX_OK;
}

/* One line of the story: an event about the invoice ("NUMBER: ..."), or
 * the outbox's account of one of its chases (drafted, sent, delayed...). */
static void cmd_invoice_show_event(const StoreTrailEvent *event, const char *prefix, char **chases)
{
  const char *detail = NULL;
  if (g_str_has_prefix(event->detail, prefix))
    detail = event->detail + strlen(prefix);
  else if (g_strcmp0(event->kind, "chase_queued") != 0 && event->message_id
           && g_strv_contains((const char *const *)chases, event->message_id))
    detail = event->detail;
  if (!detail)
    return;
  g_autofree char *when = g_date_time_format(event->at, "%Y-%m-%d %H:%M");
  printf("  %s UTC  %-20s %s\n", when, event->kind, detail);
}

/* Every trail event of `row` ("NUMBER: ..." and its chases' outbox moves),
 * oldest first. */
static int cmd_invoice_show(InvoiceCommand *cmd, char **args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StoreInvoiceRow) row = store_invoice_get(cmd->store, args[0], &error);
  if (!row && !error)
    g_set_error(&error, KEEL_PAYMENTS_ERROR, KEEL_PAYMENTS_ERROR_NOT_FOUND,
                "no invoice %s (see keel invoice list)", args[0]);
  g_autoptr(GPtrArray) events = row ? store_trail_list(cmd->store, row->client_id, NULL, &error)
                                    : NULL;
  if (!events)
    return cmd_invoice_fail(error);
  g_autofree char *amount = money_format(row->amount, row->currency);
  g_autofree char *left = payments_left_text(row);
  g_autofree char *state = cmd_invoice_state_text(row);
  printf("invoice %s  client %s  %s  issued %s  due %s  left %s  %s\n", row->number,
         row->client_id, amount, row->issued, row->due, left, state);
  g_auto(GStrv) chases = store_invoice_chase_message_ids(cmd->store, row->id, &error);
  if (!chases)
    return cmd_invoice_fail(error);
  g_autofree char *prefix = g_strdup_printf("%s: ", row->number);
  for (guint i = 0; i < events->len; i++)
    cmd_invoice_show_event(events->pdata[i], prefix, chases);
  return EX_OK;
}

static int cmd_invoice_evidence(InvoiceCommand *cmd, char **args)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = payments_evidence(cmd->store, cmd->config, args[0], &error);
  if (!text)
    return cmd_invoice_fail(error);
  fputs(text, stdout);
  return EX_OK;
}

/* The verb, its argument count, and what it runs. */
static int cmd_invoice_dispatch(InvoiceCommand *cmd, int argc, char **argv)
{
  static const struct { const char *verb; int args; } verbs[] = {
    { "add", 3 }, { "paid", 1 }, { "list", 0 }, { "show", 1 }, { "pause", 1 },
    { "resume", 1 }, { "evidence", 1 },
  };
  const char *verb = argc >= 2 ? argv[1] : "";
  for (gsize i = 0; i < G_N_ELEMENTS(verbs); i++) {
    if (strcmp(verb, verbs[i].verb) != 0)
      continue;
    if (argc - 2 != verbs[i].args)
      break;
    int rc = cmd_invoice_open(cmd);
    if (rc != EX_OK)
      return rc;
    char **args = argv + 2;
    switch (i) {
    case 0: return cmd_invoice_add(cmd, args);
    case 1: return cmd_invoice_paid(cmd, args);
    case 2: return cmd_invoice_list(cmd);
    case 3: return cmd_invoice_show(cmd, args);
    case 6: return cmd_invoice_evidence(cmd, args);
    default: return cmd_invoice_set_state(cmd, verb, args);
    }
  }
  fprintf(stderr, "keel invoice: usage: keel invoice add CLIENT NUMBER AMOUNT [--currency EUR] "
                  "[--issued DATE] (--due DATE | --terms 14d) | paid NUMBER [--date DATE] "
                  "[--amount AMOUNT] | list [--overdue] [--client NAME] [--json] | show NUMBER | "
                  "pause|resume NUMBER | evidence NUMBER\n");
  return EX_USAGE;
}

int cmd_invoice(int argc, char **argv)
{
  InvoiceCommand cmd = { 0 };
  const GOptionEntry entries[] = {
    { "currency", 0, 0, G_OPTION_ARG_STRING, &cmd.currency, "add: ISO 4217 code (default: [payments] currency)", "CODE" },
    { "issued", 0, 0, G_OPTION_ARG_STRING, &cmd.issued, "add: issue date (default: today)", "DATE" },
    { "due", 0, 0, G_OPTION_ARG_STRING, &cmd.due, "add: due date", "DATE" },
    { "terms", 0, 0, G_OPTION_ARG_STRING, &cmd.terms, "add: payment terms, e.g. 14d", "DAYS" },
    { "date", 0, 0, G_OPTION_ARG_STRING, &cmd.date, "paid: date of the payment (default: today)", "DATE" },
    { "amount", 0, 0, G_OPTION_ARG_STRING, &cmd.amount, "paid: amount received (default: all that is left)", "AMOUNT" },
    { "overdue", 0, 0, G_OPTION_ARG_NONE, &cmd.overdue, "list: only unpaid invoices past their due date", NULL },
    { "client", 0, 0, G_OPTION_ARG_STRING, &cmd.client, "list: only this client's", "NAME" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &cmd.json, "list: JSON (amounts in minor units too)", NULL },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &cmd.database, "Database file (default: the config's database)", "PATH" },
    { NULL }
  };
  int rc = EX_USAGE;
  if (cli_parse_options(&argc, &argv, "add|paid|list|show|pause|resume|evidence [ARGS]",
                        "Invoices and their chasing. Dates are YYYY-MM-DD in the client's calendar.\n"
                        "  add CLIENT NUMBER AMOUNT (--due DATE | --terms 14d)  record an invoice\n"
                        "  paid NUMBER [--date DATE] [--amount AMOUNT]  a payment (a part payment\n"
                        "       leaves the rest to chase)\n"
                        "  list [--overdue] [--client NAME] [--json]\n"
                        "  show NUMBER      the invoice's whole story: chases, answers, payments\n"
                        "  pause|resume NUMBER  stop or restart automatic chasing\n"
                        "  evidence NUMBER  the evidence pack for a dispute",
                        entries, &cmd.globals))
    rc = cmd_invoice_dispatch(&cmd, argc, argv);
  cmd_invoice_command_clear(&cmd);
  return rc;
}
