/* helpers.h: shared by the test suites. */
#ifndef GENC_TEST_HELPERS_H
#define GENC_TEST_HELPERS_H

#include <stddef.h>

#include "genrt_model.h"

/* A temporary directory for this test process, removed at exit. */
char *test_tmpdir(void);
void write_file(const char *path, const void *data, size_t len);
/* The file's bytes, NUL-terminated, in the compiler's arena: the suites
 * free everything at once with genc_free_all() after each test. */
char *read_whole(const char *path, size_t *len);
/* A deterministic uniform in [0, 1) for test data. */
double test_uniform(void);
/* Compile a C file (emitted by genc) in double precision as a shared
 * object and dlopen it. */
void *load_double_so(const char *c_path, const char *so_path);
/* The names of the specs in specs/, sorted. */
int list_specs(char ***names);
/* Initialize m's parameters and gradient-check inputs, then check every
 * term's gradient against central differences with step h, on up to
 * per_tensor entries of each parameter tensor; the worst relative error. */
double model_gradcheck(const struct genrt_model *m, double h, int per_tensor);
/* Entries the last model_gradcheck skipped: a relu kink lay within h. */
extern int gradcheck_kinks, gradcheck_entries;
/* The genc under test: $GENC_BIN, or build/genc. */
const char *genc_path(void);
/* Compile spec (a path) with genc and link a trainer, float and double as
 * `make` links one, in the test's temporary directory; its path. */
char *build_trainer(const char *spec, const char *name);
/* Run a shell command; its exit status. */
int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
