/* shape.c: shapes, which the parser, sema and every pass use: apart from
 * ast.c so that the parser calls nothing that calls it. */
#include "genc.h"

#include <limits.h>

const char *shape_str(struct shape s) {
    char *p = xprintf("[");
    for (int i = 0; i < s.n; i++)
        p = xprintf("%s%s%d", p, i ? ", " : "", s.d[i]);
    return xprintf("%s]", p);
}

long shape_size(struct shape s) {
    long n = 1;
    for (int i = 0; i < s.n; i++)
        if (__builtin_mul_overflow(n, (long)s.d[i], &n))
            return LONG_MAX;
    return n;
}

bool shape_eq(struct shape a, struct shape b) {
    if (a.n != b.n)
        return false;
    for (int i = 0; i < a.n; i++)
        if (a.d[i] != b.d[i])
            return false;
    return true;
}
