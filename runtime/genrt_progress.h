/* genrt_progress.h: the training progress line on stderr.
 *
 * On a terminal, one live line rewritten with '\r' (at most ~10 times a
 * second):
 *     step 1200/20000  loss_D 1.234 loss_G 0.876  412.3 steps/s  ETA 0:45
 * Otherwise (a log file, CI) the same text as a plain line every ~5% of the
 * run and at the end.  Quiet mode prints nothing. */
#ifndef GENRT_PROGRESS_H
#define GENRT_PROGRESS_H

#include <stdio.h>

struct genrt_progress {
    FILE *out;
    int quiet, tty;
    long first, last;   /* steps first..last are run in this process */
    long every;         /* plain mode: print every this many steps */
    double t0;          /* monotonic seconds at begin */
    double last_draw;   /* tty mode: when the line was last redrawn */
    int n_metrics;
    const char *const *names;
    int drawn;          /* tty mode: a line is on screen */
};

/* Steps first..last (inclusive) are about to run. */
void genrt_progress_begin(struct genrt_progress *p, long first, long last, int n_metrics,
                          const char *const *names, int quiet);
/* Step `step` finished with these metric values. */
void genrt_progress_update(struct genrt_progress *p, long step, const double *metrics);
/* Ends the live line. */
void genrt_progress_end(struct genrt_progress *p);

/* Monotonic wall time in seconds. */
double genrt_progress_now(void);

#endif
