/* genrt_report.h: a run's report, one self-contained HTML page.
 *
 * `X train` writes DIR/report.html at its first checkpoint, at later ones
 * as time allows (the report costs at most about 5% of the run), and when
 * it ends; `X report DIR` rebuilds it.  The page needs no network and no
 * script: the spec's text, genc --summary's table, the metrics of
 * DIR/metrics.csv as inline SVG line charts (a chart per group: losses,
 * D(x) and D(G(z)), W, -ELBO, the cycle terms, then any other column), the
 * sample grids of DIR/samples/ with their steps as data: URIs, the
 * training time, steps per second and the machine of every session, the
 * steps where a resumed run joined (marked on every chart), and genc
 * --dot's diagram of the networks, drawn by Graphviz's dot when it is on
 * PATH.
 *
 * Sessions: DIR/sessions.csv has a row per `X train` that saved a
 * checkpoint into DIR:
 *     first_step,last_step,threads,started,cpu
 * (started: UTC, ISO 8601; cpu: /proc/cpuinfo's model name, commas made
 * spaces).  A fresh run's first checkpoint replaces the file, as it
 * replaces metrics.csv; a run resumed from step k keeps the rows up to k
 * and adds its own. */
#ifndef GENRT_REPORT_H
#define GENRT_REPORT_H

#include <stdio.h>
#include <time.h>

#include "genrt_err.h"
#include "genrt_model.h"

/* ------------------------------------------------------------ metrics.csv */

/* A CSV of numbers with a header: row r's value of column c is
 * v[r * n_cols + c].  "nan", "inf" and "-inf" read as themselves. */
struct genrt_report_csv {
    int n_cols;
    char **names;
    long n_rows;
    double *v;
};

/* Reads path.  A last line without its newline (a run writing it) is left
 * out; a row with the wrong number of fields, or a field that is not a
 * number, is an error naming the line. */
int genrt_report_read_csv(const char *path, struct genrt_report_csv *t, struct genrt_err *err);
void genrt_report_csv_free(struct genrt_report_csv *t);

/* --------------------------------------------------------------- charts */

struct genrt_report_series {
    const char *name;
    const double *y; /* y[i * stride], i < the chart's n */
    long stride;
};

/* A line chart of series over x: axes with ticks and their labels, an axis
 * label each, a legend, and a dashed vertical line at each mark (the steps
 * where a resumed run joined).  More than GENRT_REPORT_MAX_POINTS points
 * are drawn as the means of equal runs of them; non-finite values are
 * left out (the line breaks there), and a chart without a finite value
 * says so. */
#define GENRT_REPORT_MAX_POINTS 800

struct genrt_report_chart {
    const char *title, *xlabel, *ylabel;
    long n;
    const double *x; /* x[i * x_stride] */
    long x_stride;
    int n_series;
    const struct genrt_report_series *series;
    int n_marks;
    const double *marks;
};

/* Writes the chart as one <svg class="chart"> element. */
void genrt_report_chart_svg(FILE *f, const struct genrt_report_chart *c);

/* ------------------------------------------------------------- sessions */

struct genrt_report_session {
    long first, last; /* the steps it trained and saved */
    int threads;
    time_t started;
    char cpu[128];
};

/* Reads path (a missing file: *n = 0).  Returns -1 on a malformed row. */
int genrt_report_read_sessions(const char *path, struct genrt_report_session **s, int *n,
                               struct genrt_err *err);
/* Writes the n sessions to path, atomically. */
int genrt_report_write_sessions(const char *path, const struct genrt_report_session *s, int n,
                                struct genrt_err *err);
/* This machine's CPU, from /proc/cpuinfo ("unknown CPU" if it says none). */
void genrt_report_cpu(char *buf, size_t n);

/* ---------------------------------------------------------------- pages */

struct genrt_report {
    const struct genrt_model *m;
    int drawn;     /* the diagram was tried: dot runs once per process */
    char *diagram; /* dot's SVG of m->spec_dot, or NULL ... */
    char note[512]; /* ... and why not */
    double last_cost; /* seconds the last page took to write */
};

void genrt_report_init(struct genrt_report *r, const struct genrt_model *m);
/* The page of run directory dir, written atomically to out. */
int genrt_report_write(struct genrt_report *r, const char *dir, const char *out,
                       struct genrt_err *err);
void genrt_report_free(struct genrt_report *r);

#endif
