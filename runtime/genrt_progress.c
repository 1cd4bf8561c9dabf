/* genrt_progress.c: see genrt_progress.h. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* clock_gettime, isatty, fileno */
#endif
#include "genrt_progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SHOWN_METRICS 6 /* keep the line on one terminal row */
#define TTY_REDRAW_SECONDS 0.1
#define PLAIN_LINES 20      /* one plain line per 5% of the run */

double genrt_progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void genrt_progress_begin(struct genrt_progress *p, long first, long last, int n_metrics,
                          const char *const *names, int quiet)
{
    memset(p, 0, sizeof *p);
    p->out = stderr;
    p->quiet = quiet;
    p->tty = isatty(fileno(stderr));
    p->first = first;
    p->last = last;
    p->every = (last - first + 1) / PLAIN_LINES;
    if (p->every < 1)
        p->every = 1;
    p->n_metrics = n_metrics;
    p->names = names;
    p->t0 = genrt_progress_now();
    p->last_draw = -1e30;
}

/* "0:45", "12:03", "1:02:03" */
static void fmt_duration(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 1e8)
        s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void draw(struct genrt_progress *p, long step, const double *metrics, double now)
{
    char line[512];
    int k = snprintf(line, sizeof line, "step %ld/%ld ", step, p->last);
    int shown = p->n_metrics < MAX_SHOWN_METRICS ? p->n_metrics : MAX_SHOWN_METRICS;
    for (int i = 0; i < shown && k < (int)sizeof line; i++)
        k += snprintf(line + k, sizeof line - k, " %s %.3f", p->names[i], metrics[i]);
    double dt = now - p->t0;
    long done = step - p->first + 1;
    double rate = dt > 0 ? done / dt : 0.0;
    char eta[32];
    fmt_duration(eta, sizeof eta, rate > 0 ? (p->last - step) / rate : 0.0);
    if (k < (int)sizeof line)
        snprintf(line + k, sizeof line - k, "  %.1f steps/s  ETA %s", rate, eta);
    if (p->tty)
        fprintf(p->out, "\r%s\033[K", line); /* \033[K: erase a longer previous line */
    else
        fprintf(p->out, "%s\n", line);
    fflush(p->out);
    p->drawn = 1;
}

void genrt_progress_update(struct genrt_progress *p, long step, const double *metrics)
{
    if (p->quiet)
        return;
    int end = step >= p->last;
    if (p->tty) {
        double now = genrt_progress_now();
        if (end || now - p->last_draw >= TTY_REDRAW_SECONDS) {
            draw(p, step, metrics, now);
            p->last_draw = now;
        }
    } else if (end || (step - p->first + 1) % p->every == 0) {
        draw(p, step, metrics, genrt_progress_now());
    }
}

void genrt_progress_end(struct genrt_progress *p)
{
    if (!p->quiet && p->tty && p->drawn)
        fputc('\n', p->out);
    p->drawn = 0;
}
