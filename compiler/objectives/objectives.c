/* objectives.c: the table of objectives, from objectives.def. */
#include "../genc.h"

#include <string.h>

#define OBJECTIVE(name) extern const struct objective_def objective_##name;
#include "objectives.def"
#undef OBJECTIVE

static const struct objective_def *const table[] = {
#define OBJECTIVE(name) &objective_##name,
#include "objectives.def"
#undef OBJECTIVE
};

enum { N_OBJECTIVES = sizeof table / sizeof table[0] };

const struct objective_def *objective_find(const char *name) {
    for (int i = 0; i < N_OBJECTIVES; i++)
        if (!strcmp(table[i]->name, name))
            return table[i];
    return NULL;
}

const char *const *objective_names(int *n) {
    static const char *names[N_OBJECTIVES];
    for (int i = 0; i < N_OBJECTIVES; i++)
        names[i] = table[i]->name;
    *n = N_OBJECTIVES;
    return names;
}
