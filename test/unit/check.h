/*
 * check.h — the unit-test harness: named checks that report the file, line
 * and values on failure and keep going, so one run shows every failure.
 *
 *   static void test_x(void) { CHECK(cond); CHECK_EQ(a, b); CHECK_STR(s, "v"); }
 *   int main(void) { RUN(test_x); return check_done(); }
 */
#ifndef VL_CHECK_H
#define VL_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures_;
static int check_tests_;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
            check_failures_++;                                                        \
        }                                                                             \
    } while (0)

#define CHECK_EQ(a, b)                                                                \
    do {                                                                              \
        long long a_ = (long long) (a), b_ = (long long) (b);                         \
        if (a_ != b_) {                                                               \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__,       \
                    __LINE__, #a, #b, a_, b_);                                        \
            check_failures_++;                                                        \
        }                                                                             \
    } while (0)

#define CHECK_STR(a, b)                                                               \
    do {                                                                              \
        const char *a_ = (a), *b_ = (b);                                              \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                      \
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
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,      \
                    __LINE__, h_ ? h_ : "(null)", n_);                                \
            check_failures_++;                                                        \
        }                                                                             \
    } while (0)

#define RUN(fn)                                                                       \
    do {                                                                              \
        int before_ = check_failures_;                                                \
        fn();                                                                         \
        check_tests_++;                                                               \
        printf("%s %s\n", check_failures_ == before_ ? "ok" : "FAIL", #fn);           \
    } while (0)

static inline int
check_done(void)
{
    printf("%d tests, %d failed checks\n", check_tests_, check_failures_);
    return check_failures_ ? 1 : 0;
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
