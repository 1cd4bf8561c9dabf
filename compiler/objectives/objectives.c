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

int objective_names(const char **names, int max) {
    int n = 0;
    for (int i = 0; i < N_OBJECTIVES && n < max; i++)
        names[n++] = table[i]->name;
    return n;
}
