/* daemon/base/crash.h: test-only crash points (isync's crash tests). With
 * KEEL_TEST_CRASH_AT=<point> in the environment, keel_crash_point("<point>")
 * kills the process with SIGKILL right there, after the side effect that
 * precedes the call and before anything records it. Points, in the order
 * of one message's life: after-fetch, after-store, after-claim, after-smtp,
 * after-sent-append, after-draft-append, after-digest-queued.
 * KEEL_TEST_CRASH_AT=<point>:<n> dies at the n-th time the point is reached.
 * Must not: do anything at all when the variable is unset. */
#pragma once

void keel_crash_point(const char *point);
