/*
 * check.h — the unit-test harness: named checks that report the file, line
 * and values on failure and keep going, so one run shows every failure.
 *
 *   static void test_x(void) { CHECK(cond); CHECK_EQ(a, b); CHECK_STR(s, "v"); }
 *   int main(void) { RUN(test_x); return check_done(); }
 *
 * Output is TAP (the Test Anything Protocol, as Meson's `protocol: 'tap'`
 * reads it): each RUN is one case, printed on stdout as `ok N - test_x` or
 * `not ok N - test_x` once it returns, and check_done() prints the plan
 * `1..N` last. The failed checks themselves go to stderr, prefixed with the
 * case they failed in ("test_x: file:line: ..."). Checks that fail outside
 * any RUN (a main's setup or teardown) are reported by check_done() as one
 * more case, `not ok N - checks outside any test`, so no failure goes
 * uncounted. check_bail_out() stops a program that cannot run its cases
 * (TAP "Bail out!").
 *
 * Nothing else may print to stdout in a test program: a line there that is
 * not TAP confuses the parser (write it to stderr, or as a "# " comment).
 * stdout is flushed after every line, so a crash loses no reported case and
 * a forked child inherits no unflushed results.
 *
 * Single-threaded: the counters are plain statics, one set per program.
 */
#ifndef VL_CHECK_H
#define VL_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures_;           /* failed checks, in and outside cases */
static int check_case_failures_;      /* failed checks inside RUN */
static int check_tests_;              /* cases reported so far (TAP number) */
static const char *check_current_;    /* name of the running case, or NULL */
static const char *check_variant_;    /* appended to case names, or NULL */

/* Writes the "case: " prefix of a failure line to stderr. */
#define CHECK_FAIL_PREFIX_()                                                          \
    fprintf(stderr, "%s%s", check_current_ ? check_current_ : "",                     \
            check_current_ ? ": " : "")

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            CHECK_FAIL_PREFIX_();                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
            check_failures_++;                                                        \
        }                                                                             \
    } while (0)

#define CHECK_EQ(a, b)                                                                \
    do {                                                                              \
        long long a_ = (long long) (a), b_ = (long long) (b);                         \
        if (a_ != b_) {                                                               \
            CHECK_FAIL_PREFIX_();                                                     \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__,       \
                    __LINE__, #a, #b, a_, b_);                                        \
            check_failures_++;                                                        \
        }                                                                             \
    } while (0)

#define CHECK_STR(a, b)                                                               \
    do {                                                                              \
        const char *a_ = (a), *b_ = (b);                                              \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                      \
            CHECK_FAIL_PREFIX_();                                                     \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__,   \
                    __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");        \
            check_failures_++;                                                        \
        }                                                                             \
    } while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                                   \
    do {                                                                              \
        const char *h_ = (hay), *n_ = (needle);                                       \
        if (!h_ || !strstr(h_, n_)) {                                                 \
            CHECK_FAIL_PREFIX_();                                                     \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,      \
                    __LINE__, h_ ? h_ : "(null)", n_);                                \
            check_failures_++;                                                        \
        }                                                                             \
    } while (0)

/* Prints one TAP result line for a finished case. */
static inline void
check_report_(int ok, const char *name)
{
    check_tests_++;
    printf("%s %d - %s%s%s%s\n", ok ? "ok" : "not ok", check_tests_, name,
           check_variant_ ? " (" : "", check_variant_ ? check_variant_ : "",
           check_variant_ ? ")" : "");
    fflush(stdout);
}

/* Runs fn() as one TAP case: "ok" when none of its checks failed. */
#define RUN(fn)                                                                       \
    do {                                                                              \
        int before_ = check_failures_;                                                \
        fflush(stdout);                                                               \
        check_current_ = #fn;                                                         \
        fn();                                                                         \
        check_current_ = NULL;                                                        \
        check_case_failures_ += check_failures_ - before_;                            \
        check_report_(check_failures_ == before_, #fn);                               \
    } while (0)

/* Reports fn as skipped (TAP "# SKIP why") without running it. */
#define SKIP(fn, why)                                                                 \
    do {                                                                              \
        (void) (fn);                                                                  \
        check_tests_++;                                                               \
        printf("ok %d - %s # SKIP %s\n", check_tests_, #fn, (why));                   \
        fflush(stdout);                                                               \
    } while (0)

/* Names the variant the following cases run in ("fresh_state"), shown after
 * each case's name; NULL ends it. The string is borrowed until then. */
static inline void
check_variant(const char *variant)
{
    check_variant_ = variant;
}

/* Ends the program's TAP stream: a case for failed checks outside any RUN,
 * then the plan. Returns main's exit status: 1 if any check failed. */
static inline int
check_done(void)
{
    if (check_failures_ > check_case_failures_) {
        check_variant_ = NULL;
        check_report_(0, "checks outside any test");
    }
    printf("1..%d\n", check_tests_);
    fflush(stdout);
    return check_failures_ ? 1 : 0;
}

/* Stops the TAP stream when the program cannot run its cases (TAP "Bail
 * out!"); returns main's exit status 1. why goes on the one line. */
static inline int
check_bail_out(const char *why)
{
    printf("Bail out! %s\n", why);
    fflush(stdout);
    return 1;
}

/* A fresh temporary directory under $TMPDIR for a test; caller frees nothing
 * (static buffer per call site is avoided: the path is written into out). */
#include <stdlib.h>
static inline const char *
check_tmpdir(char *out, size_t size)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(out, size, "%s/vltest.XXXXXX", base);
    return mkdtemp(out);
}
#endif
