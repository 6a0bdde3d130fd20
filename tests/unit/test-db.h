/* tests/unit/test-db.h: a store in a fresh temporary folder, for the unit
 * tests that need one, and a way to read it behind the store's back; a
 * pipeline over the shipped rules (the fixture of the tests that ingest
 * mail); and taking a database back to an older schema (migration tests). */
#pragma once

#include "daemon/base/config.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/record/verdict.h"
#include "daemon/store/store.h"

/* Makes a temporary folder named after `prefix` ("keel-store") and opens a new
 * store in it: `*dir`, `*path` (dir/keel.db) and `*store` are the caller's. */
void test_db_create(const char *prefix, char **dir, char **path, Store **store);
/* Closes the store and removes the database (with its WAL files) and the folder. */
void test_db_remove(char **dir, char **path, Store **store);
/* The first column of the one row `sql` returns, read through a separate
 * read-only connection. */
gint64 test_db_int(const char *path, const char *sql);

/* A store, a config, the shipped rules/ and a pipeline over them; all owned. */
typedef struct {
  char *dir, *path;
  Store *store;
  KeelConfig *config;
  RuleSet *rules;
  InstructionRules *instruction_rules;
  Pipeline *pipeline;
} TestDbPipeline;

/* Creates the store (test_db_create(`prefix`)) and loads the config
 * "[keel]\ndatabase = PATH\nrules = $KEEL_SOURCE_ROOT/rules\n" + `config_rest`
 * (the rest of [keel], then accounts and clients), the rules it names and a
 * pipeline over them. */
void test_db_pipeline_open(TestDbPipeline *t, const char *prefix, const char *config_rest);
/* Frees what test_db_pipeline_open() made and removes the store. */
void test_db_pipeline_close(TestDbPipeline *t);
/* The same as a GTest fixture teardown. */
void test_db_pipeline_teardown(TestDbPipeline *t, gconstpointer unused);

/* The time of an ISO 8601 text with its offset ("2026-03-06T17:00:00Z"). */
GDateTime *test_db_at(const char *iso);

/* Takes the (closed) database at `path` back to schema `version`, dropping
 * what every later migration added, as an older keel would have left it. */
void test_db_rewind(const char *path, int version);
