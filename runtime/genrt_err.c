/* genrt_err.c: see genrt_err.h. */
#include "genrt_err.h"

#include <stdarg.h>
#include <stdio.h>

int genrt_err_set(struct genrt_err *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}
