/* genrt_report.c: the run report (genrt_report.h): metrics.csv and
 * sessions.csv read back, SVG line charts, the sample grids as data: URIs,
 * dot's diagram, and the page around them. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "genrt_report.h"

#include "genrt_cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "genrt_file.h"
#include "genrt_progress.h"

extern char **environ;

#define MAX_GRIDS 40                  /* sample grids shown, evenly spaced */
#define MAX_GRID_BYTES (20L << 20)    /* ... and their PNG bytes in all */
#define DOT_SECONDS 30                /* dot gets this long to draw the networks */

/* ---------------------------------------------------------------- CSV */

void genrt_report_csv_free(struct genrt_report_csv *t)
{
    for (int i = 0; i < t->n_cols; i++)
        free(t->names[i]);
    free(t->names);
    free(t->v);
    memset(t, 0, sizeof *t);
}

int genrt_report_read_csv(const char *path, struct genrt_report_csv *t, struct genrt_err *err)
{
    unsigned char *buf;
    size_t len;
    memset(t, 0, sizeof *t);
    if (genrt_file_read_all(path, &buf, &len, err))
        return -1;
    char *s = (char *)buf;
    char *nl = strchr(s, '\n');
    if (!nl) {
        free(buf);
        return genrt_err_set(err, "%s: no header line", path);
    }
    *nl = 0;
    t->n_cols = 1;
    for (char *p = s; *p; p++)
        t->n_cols += *p == ',';
    t->names = genrt_file_xcalloc((size_t)t->n_cols, sizeof *t->names);
    char *p = s;
    for (int c = 0; c < t->n_cols; c++) {
        char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n && p[n - 1] == '\r')
            n--;
        t->names[c] = genrt_file_xmalloc(n + 1);
        memcpy(t->names[c], p, n);
        t->names[c][n] = 0;
        if (!n) {
            genrt_err_set(err, "%s:1: column %d has no name", path, c + 1);
            goto fail;
        }
        p = comma ? comma + 1 : p + n;
    }
    long cap = 0;
    int line = 2;
    for (p = nl + 1; *p; line++) {
        char *eol = strchr(p, '\n');
        if (!eol)
            break; /* being written */
        if (t->n_rows == cap) {
            cap = cap ? 2 * cap : 256;
            t->v = genrt_file_xrealloc(t->v, (size_t)cap * (size_t)t->n_cols * sizeof *t->v);
        }
        double *row = t->v + t->n_rows * t->n_cols;
        char *q = p;
        for (int c = 0; c < t->n_cols; c++) {
            char *end;
            row[c] = strtod(q, &end);
            int last = c == t->n_cols - 1;
            if (end == q || (last ? end != eol && !(*end == '\r' && end + 1 == eol)
                                  : *end != ',')) {
                if (last && *end == ',')
                    genrt_err_set(err, "%s:%d: more fields than the header's %d", path, line,
                                  t->n_cols);
                else if (!last && (*end == '\n' || end == eol))
                    genrt_err_set(err, "%s:%d: %d fields, the header has %d", path, line, c + 1,
                                  t->n_cols);
                else
                    genrt_err_set(err, "%s:%d: field %d is not a number", path, line, c + 1);
                goto fail;
            }
            q = end + 1;
        }
        t->n_rows++;
        p = eol + 1;
    }
    free(buf);
    return 0;
fail:
    free(buf);
    genrt_report_csv_free(t);
    return -1;
}

/* ---------------------------------------------------------- HTML text */

/* Text for an HTML element or attribute: markup characters as entities,
 * control bytes (but tabs and newlines) as '?'. */
static void put_text(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            fputc(*p < 0x20 && *p != '\n' && *p != '\t' ? '?' : *p, f);
        }
    }
}

static void put_base64(FILE *f, const unsigned char *p, size_t n)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        fputc(digits[v >> 18 & 63], f);
        fputc(digits[v >> 12 & 63], f);
        fputc(i + 1 < n ? digits[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? digits[v & 63] : '=', f);
    }
}

/* --------------------------------------------------------------- charts */

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
#define N_COLORS ((int)(sizeof palette / sizeof palette[0]))

#define MAX_TICKS 20 /* per axis: nice_step makes 5 to 12 */

/* Chart geometry, in SVG user units. */
enum { CW = 580, CH = 320, CL = 70, CR = 16, CT = 34, CB = 78 };

static int is_finite(double v)
{
    return v - v == 0.0;
}

/* A round step near range / n: 1, 2 or 5 times a power of ten. */
static double nice_step(double range, int n)
{
    double raw = range / n;
    double p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* A tick value as a short label; values within rounding of 0 are 0. */
static void put_tick(FILE *f, double v, double step)
{
    if (fabs(v) < step * 1e-9)
        v = 0;
    fprintf(f, "%.6g", v);
}

/* The chart's points after averaging runs of `per` points: x and each
 * series' y (NaN where a run has no finite value). */
struct points {
    long n, per;
    double *x, *y; /* y[s * n + i] */
};

static void reduce_points(const struct genrt_report_chart *c, struct points *pt)
{
    long n = c->n;
    pt->per = n > GENRT_REPORT_MAX_POINTS ? (n + GENRT_REPORT_MAX_POINTS - 1) /
                                                GENRT_REPORT_MAX_POINTS : 1;
    pt->n = (n + pt->per - 1) / pt->per;
    pt->x = genrt_file_xcalloc((size_t)pt->n + 1, sizeof *pt->x);
    pt->y = genrt_file_xcalloc((size_t)(pt->n * c->n_series) + 1, sizeof *pt->y);
    for (long i = 0; i < pt->n; i++) {
        long a = i * pt->per, b = a + pt->per < n ? a + pt->per : n;
        double sx = 0;
        for (long k = a; k < b; k++)
            sx += c->x[k * c->x_stride];
        pt->x[i] = sx / (double)(b - a);
        for (int s = 0; s < c->n_series; s++) {
            const struct genrt_report_series *se = &c->series[s];
            double sy = 0;
            long m = 0;
            for (long k = a; k < b; k++) {
                double v = se->y[k * se->stride];
                if (is_finite(v)) {
                    sy += v;
                    m++;
                }
            }
            pt->y[s * pt->n + i] = m ? sy / (double)m : NAN;
        }
    }
}

void genrt_report_chart_svg(FILE *f, const struct genrt_report_chart *c)
{
    struct points pt;
    reduce_points(c, &pt);
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    long n_finite = 0;
    for (long i = 0; i < c->n; i++) {
        double x = c->x[i * c->x_stride];
        if (is_finite(x)) {
            x0 = fmin(x0, x);
            x1 = fmax(x1, x);
        }
    }
    for (long i = 0; i < pt.n; i++) {
        for (int s = 0; s < c->n_series; s++) {
            double v = pt.y[s * pt.n + i];
            if (is_finite(v) && is_finite(pt.x[i])) {
                y0 = fmin(y0, v);
                y1 = fmax(y1, v);
                n_finite++;
            }
        }
    }
    if (!n_finite) { /* axes all the same, around nothing */
        x0 = x0 <= x1 ? x0 : 0;
        x1 = x0 < x1 ? x1 : x0 + 1;
        y0 = 0;
        y1 = 1;
    }
    if (x1 - x0 <= 1e-9 * fmax(fabs(x0), fabs(x1))) { /* one step */
        x0 -= 1;
        x1 += 1;
    }
    if (y1 - y0 <= 1e-9 * fmax(fabs(y0), fabs(y1))) { /* a constant, up to rounding */
        double pad = fabs(y0) > 0 ? fabs(y0) * 0.1 : 1;
        y0 -= pad;
        y1 += pad;
    }
    double ys = nice_step(y1 - y0, 5);
    y0 = floor(y0 / ys) * ys;
    y1 = ceil(y1 / ys) * ys;
    double xs = nice_step(x1 - x0, 6);
    const double pw = CW - CL - CR, ph = CH - CT - CB;
#define PX(v) (CL + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (CT + ph - ((v) - y0) / (y1 - y0) * ph)

    fprintf(f, "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
            "width=\"%d\" height=\"%d\" role=\"img\" data-series=\"%d\" data-points=\"%ld\">\n",
            CW, CH, CW, CH, c->n_series, pt.n);
    fprintf(f, "<title>");
    put_text(f, c->title);
    fprintf(f, "</title>\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", CW,
            CH);
    fprintf(f, "<text class=\"title\" x=\"%d\" y=\"20\" font-size=\"15\" font-weight=\"bold\">",
            CL);
    put_text(f, c->title);
    if (pt.per > 1)
        fprintf(f, "<tspan font-weight=\"normal\" font-size=\"12\" fill=\"#555\"> (means of %ld "
                "steps)</tspan>", pt.per);
    fprintf(f, "</text>\n");

    /* grid, ticks and their labels */
    fprintf(f, "<g class=\"axis y\" font-size=\"11\" text-anchor=\"end\">\n");
    for (int k = 0; k <= MAX_TICKS && y0 + k * ys <= y1 + ys * 1e-6; k++) {
        double v = y0 + k * ys, y = PY(v);
        fprintf(f, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
                "<text class=\"tick\" x=\"%d\" y=\"%.1f\">", CL, CL + pw, y, y, CL - 5, CL, y, y,
                CL - 8, y + 4);
        put_tick(f, v, ys);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</g>\n<g class=\"axis x\" font-size=\"11\" text-anchor=\"middle\">\n");
    for (int k = 0; k <= MAX_TICKS && ceil(x0 / xs) * xs + k * xs <= x1 + xs * 1e-6; k++) {
        double v = ceil(x0 / xs) * xs + k * xs, x = PX(v);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
                "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">", x, x, CT + ph, CT + ph + 5, x,
                CT + ph + 18);
        put_tick(f, v, xs);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</g>\n<path class=\"frame\" d=\"M%d %d V%.1f H%.1f\" fill=\"none\" "
            "stroke=\"#333\"/>\n", CL, CT, CT + ph, CL + pw);
    fprintf(f, "<text class=\"label x\" x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
            "text-anchor=\"middle\">", CL + pw / 2, CT + ph + 36);
    put_text(f, c->xlabel);
    fprintf(f, "</text>\n<text class=\"label y\" x=\"16\" y=\"%.1f\" font-size=\"12\" "
            "text-anchor=\"middle\" transform=\"rotate(-90 16 %.1f)\">", CT + ph / 2,
            CT + ph / 2);
    put_text(f, c->ylabel);
    fprintf(f, "</text>\n");

    /* the resumes, then the series: a path each, broken at non-finite
     * values, with a dot for a point that has no neighbour */
    int n_marks = 0;
    for (int k = 0; k < c->n_marks; k++) {
        double v = c->marks[k];
        if (!(v >= x0 && v <= x1))
            continue;
        n_marks++;
        fprintf(f, "<line class=\"resume\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.1f\" "
                "stroke=\"#555\" stroke-dasharray=\"5 4\"><title>a resumed run joined at step "
                "%.0f</title></line>\n", PX(v), PX(v), CT, CT + ph, v);
    }
    fprintf(f, "<g class=\"lines\">\n");
    for (int s = 0; s < c->n_series; s++) {
        const double *y = pt.y + s * pt.n;
        const char *color = palette[s % N_COLORS];
        fprintf(f, "<path class=\"series\" data-name=\"");
        put_text(f, c->series[s].name);
        fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" "
                "stroke-linejoin=\"round\" d=\"", color);
        int open = 0;
        for (long i = 0; i < pt.n; i++) {
            if (!is_finite(y[i]) || !is_finite(pt.x[i])) {
                open = 0;
                continue;
            }
            fprintf(f, "%s%.1f %.1f", open ? " L" : (i ? " M" : "M"), PX(pt.x[i]), PY(y[i]));
            open = 1;
        }
        fprintf(f, "\"/>\n");
        for (long i = 0; i < pt.n; i++) {
            int alone = is_finite(y[i]) && is_finite(pt.x[i]) && (i == 0 || !is_finite(y[i - 1])) &&
                        (i == pt.n - 1 || !is_finite(y[i + 1]));
            if (alone)
                fprintf(f, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                        PX(pt.x[i]), PY(y[i]), color);
        }
    }
    fprintf(f, "</g>\n");
    if (!n_finite)
        fprintf(f, "<text class=\"empty\" x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"#555\" "
                "text-anchor=\"middle\">%s</text>\n", CL + pw / 2, CT + ph / 2,
                c->n ? "no finite values" : "no rows yet");

    /* the legend, in a row under the axis label */
    fprintf(f, "<g class=\"legend\" font-size=\"12\">\n");
    double lx = CL, ly = CH - 14;
    for (int s = 0; s < c->n_series + (n_marks > 0); s++) {
        int mark = s == c->n_series;
        const char *name = mark ? "resumed run joined" : c->series[s].name;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"%s\"%s/><text x=\"%.1f\" y=\"%.1f\">", lx, lx + 22, ly - 4,
                ly - 4, mark ? "#555" : palette[s % N_COLORS], mark ? "1" : "2.5",
                mark ? " stroke-dasharray=\"5 4\"" : "", lx + 27, ly);
        put_text(f, name);
        fprintf(f, "</text>\n");
        lx += 40 + 7.0 * (double)strlen(name);
    }
    fprintf(f, "</g>\n</svg>\n");
#undef PX
#undef PY
    free(pt.x);
    free(pt.y);
}

/* ------------------------------------------------------------- sessions */

void genrt_report_cpu(char *buf, size_t n)
{
    snprintf(buf, n, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10))
            continue;
        char *v = strchr(line, ':');
        if (!v)
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\n")] = 0;
        snprintf(buf, n, "%s", v);
        break;
    }
    fclose(f);
    for (char *p = buf; *p; p++)
        if (*p == ',' || (unsigned char)*p < 0x20)
            *p = ' ';
}

static const char sessions_header[] = "first_step,last_step,threads,started,cpu";

int genrt_report_read_sessions(const char *path, struct genrt_report_session **s, int *n,
                               struct genrt_err *err)
{
    *s = NULL;
    *n = 0;
    if (access(path, F_OK) != 0)
        return 0;
    unsigned char *buf;
    size_t len;
    if (genrt_file_read_all(path, &buf, &len, err))
        return -1;
    char *p = (char *)buf;
    size_t hl = strlen(sessions_header);
    if (strncmp(p, sessions_header, hl) || p[hl] != '\n') {
        free(buf);
        return genrt_err_set(err, "%s:1: not a sessions file (its header is not '%s')", path,
                             sessions_header);
    }
    p += hl + 1;
    int cap = 0;
    for (int line = 2; *p; line++) {
        char *eol = strchr(p, '\n');
        if (!eol)
            break;
        *eol = 0;
        struct genrt_report_session x;
        memset(&x, 0, sizeof x);
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        int at = 0;
        if (sscanf(p, "%ld,%ld,%d,%d-%d-%dT%d:%d:%dZ,%n", &x.first, &x.last, &x.threads,
                   &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                   &at) != 9 || !at || x.first < 1 || x.last < x.first - 1 || x.threads < 1) {
            free(*s);
            *s = NULL;
            *n = 0;
            free(buf);
            return genrt_err_set(err, "%s:%d: malformed row", path, line);
        }
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        x.started = timegm(&tm);
        snprintf(x.cpu, sizeof x.cpu, "%s", p + at);
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            *s = genrt_file_xrealloc(*s, (size_t)cap * sizeof **s);
        }
        (*s)[(*n)++] = x;
        p = eol + 1;
    }
    free(buf);
    return 0;
}

int genrt_report_write_sessions(const char *path, const struct genrt_report_session *s, int n,
                                struct genrt_err *err)
{
    struct genrt_file af;
    if (genrt_file_create(&af, path, err))
        return -1;
    fprintf(af.f, "%s\n", sessions_header);
    for (int i = 0; i < n; i++) {
        struct tm tm;
        gmtime_r(&s[i].started, &tm);
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(af.f, "%ld,%ld,%d,%s,%s\n", s[i].first, s[i].last, s[i].threads, when, s[i].cpu);
    }
    return genrt_file_commit(&af, err);
}

/* ------------------------------------------------------------- diagram */

/* dot -Tsvg on the model's DOT text: its <svg> element, or NULL and why
 * not in r->note. */
static void draw_networks(struct genrt_report *r)
{
    r->drawn = 1;
    if (!r->m->spec_dot || !r->m->spec_dot[0]) {
        snprintf(r->note, sizeof r->note, "this trainer has no genc --dot graph of its spec");
        return;
    }
    FILE *in = tmpfile(), *errf = tmpfile();
    int out[2] = {-1, -1};
    if (!in || !errf || pipe(out) != 0) {
        snprintf(r->note, sizeof r->note, "cannot run dot: %s", strerror(errno));
        goto done;
    }
    fputs(r->m->spec_dot, in);
    fflush(in);
    rewind(in);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fileno(in), 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fileno(errf), 2);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *argv[] = {"dot", "-Tsvg", NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "dot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    out[1] = -1;
    if (rc != 0) {
        if (rc == ENOENT)
            snprintf(r->note, sizeof r->note, "Graphviz's dot is not installed (not on PATH), so "
                     "the diagram is left out; genc SPEC --dot | dot -Tsvg draws it");
        else
            snprintf(r->note, sizeof r->note, "cannot run dot: %s", strerror(rc));
        goto done;
    }
    size_t len = 0, cap = 1 << 16;
    char *svg = genrt_file_xmalloc(cap);
    double deadline = genrt_progress_now() + DOT_SECONDS;
    int timed_out = 0;
    for (;;) {
        int left = (int)((deadline - genrt_progress_now()) * 1000);
        struct pollfd pfd = {out[0], POLLIN, 0};
        if (left <= 0 || (poll(&pfd, 1, left) == 0)) {
            timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        if (len + 4096 > cap)
            svg = genrt_file_xrealloc(svg, cap *= 2);
        ssize_t k = read(out[0], svg + len, cap - len - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    svg[len] = 0;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    char *start = strstr(svg, "<svg");
    if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || !start) {
        char msg[256] = "";
        fflush(errf);
        rewind(errf);
        if (!fgets(msg, sizeof msg, errf))
            msg[0] = 0;
        msg[strcspn(msg, "\n")] = 0;
        if (timed_out)
            snprintf(r->note, sizeof r->note, "dot did not finish in %d s", DOT_SECONDS);
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            snprintf(r->note, sizeof r->note, "Graphviz's dot is not installed, so the diagram "
                     "is left out; genc SPEC --dot | dot -Tsvg draws it");
        else
            snprintf(r->note, sizeof r->note, "dot failed%s%.200s", msg[0] ? ": " : "", msg);
        free(svg);
        goto done;
    }
    r->diagram = genrt_file_xmalloc(strlen(start) + 1);
    strcpy(r->diagram, start);
    free(svg);
done:
    if (out[0] >= 0)
        close(out[0]);
    if (in)
        fclose(in);
    if (errf)
        fclose(errf);
}

/* ---------------------------------------------------------------- grids */

struct grid {
    long step;
    char *path;
};

static int by_step(const void *a, const void *b)
{
    const struct grid *x = a, *y = b;
    return (x->step > y->step) - (x->step < y->step);
}

/* samples/step-NNNNNN.png of this run: up to the last step of the metrics,
 * and not older than its first session (a replaced run's). */
static struct grid *list_grids(const char *dir, long last_step, time_t since, long *n)
{
    *n = 0;
    char *sd = genrt_file_join(dir, "samples");
    DIR *d = opendir(sd);
    struct grid *g = NULL;
    long cap = 0;
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            const char *s = e->d_name;
            size_t len = strlen(s);
            if (len < 10 || strncmp(s, "step-", 5) || strcmp(s + len - 4, ".png"))
                continue;
            char *end;
            long step = strtol(s + 5, &end, 10);
            if (end != s + len - 4 || step < 1 || step > last_step)
                continue;
            char *path = genrt_file_join(sd, s);
            struct stat st;
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_mtime < since) {
                free(path);
                continue;
            }
            if (*n == cap) {
                cap = cap ? 2 * cap : 64;
                g = genrt_file_xrealloc(g, (size_t)cap * sizeof *g);
            }
            g[*n].step = step;
            g[*n].path = path;
            (*n)++;
        }
        closedir(d);
    }
    free(sd);
    if (*n)
        qsort(g, (size_t)*n, sizeof *g, by_step);
    return g;
}

/* ---------------------------------------------------------------- page */

void genrt_report_init(struct genrt_report *r, const struct genrt_model *m)
{
    memset(r, 0, sizeof *r);
    r->m = m;
}

void genrt_report_free(struct genrt_report *r)
{
    free(r->diagram);
    r->diagram = NULL;
}

static const char style[] =
    "body{font:15px/1.45 system-ui,sans-serif;margin:24px 32px;color:#222;background:#fafafa}"
    "h1{margin:0 0 4px}h2{margin:32px 0 10px;border-bottom:1px solid #ccc}"
    ".sub{color:#555;margin:0}table{border-collapse:collapse}"
    "td,th{padding:3px 12px 3px 0;text-align:left;vertical-align:top}"
    "th{font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".charts{display:flex;flex-wrap:wrap;gap:16px}.charts svg{border:1px solid #ddd}"
    ".grids{display:flex;flex-wrap:wrap;gap:14px}figure{margin:0;text-align:center}"
    "figure img{display:block;image-rendering:pixelated;border:1px solid #ddd;max-width:300px}"
    "figcaption{font-size:13px;color:#444}"
    ".diagram{overflow:auto;background:#fff;border:1px solid #ddd;max-height:900px}"
    "pre{background:#fff;border:1px solid #ddd;padding:10px;overflow:auto;font-size:13px}"
    ".note{color:#555}";

/* Chart groups: a metric's group, by the metric's name and the objective. */
enum group { G_LOSS, G_ELBO, G_D, G_W, G_CYCLE, G_OTHER, N_GROUPS };

static const struct {
    const char *title, *ylabel;
} groups[N_GROUPS] = {
    [G_LOSS] = {"Losses", "loss"},
    [G_ELBO] = {"\xe2\x88\x92" "ELBO and its terms", "nats per example"},
    [G_D] = {"D(x) and D(G(z))", "mean output of D"},
    [G_W] = {"Wasserstein estimate W", "W"},
    [G_CYCLE] = {"Cycle consistency", "mean absolute difference"},
    [G_OTHER] = {NULL, NULL},
};

static enum group group_of(const struct genrt_model *m, const char *name)
{
    if (m->objective == GENRT_OBJ_VAE && (!strcmp(name, "loss") || !strcmp(name, "rec") ||
                                          !strcmp(name, "kl")))
        return G_ELBO;
    if (!strncmp(name, "loss", 4))
        return G_LOSS;
    if (!strcmp(name, "D_x") || !strcmp(name, "D_G_z"))
        return G_D;
    if (!strcmp(name, "W"))
        return G_W;
    if (!strcmp(name, "cycle") || !strcmp(name, "identity"))
        return G_CYCLE;
    return G_OTHER;
}

static void put_seconds(FILE *f, double s)
{
    if (s < 120)
        fprintf(f, "%.1f s", s);
    else if (s < 7200)
        fprintf(f, "%.1f min", s / 60);
    else
        fprintf(f, "%.2f h", s / 3600);
}

/* The seconds column at the last row of a step <= step (0 before any). */
static double seconds_at(const struct genrt_report_csv *t, int sc, long step)
{
    double s = 0;
    for (long i = 0; i < t->n_rows && t->v[i * t->n_cols] <= (double)step; i++)
        s = t->v[i * t->n_cols + sc];
    return s;
}

static void put_run(FILE *f, const struct genrt_report_csv *t, int sc,
                    const struct genrt_report_session *ss, int n_ss)
{
    fprintf(f, "<h2 id=\"run\">Run</h2>\n<table class=\"run\">\n");
    if (!t->n_rows) {
        fprintf(f, "<tr><th>steps</th><td>none yet</td></tr>\n</table>\n");
        return;
    }
    long first = (long)t->v[0], last = (long)t->v[(t->n_rows - 1) * t->n_cols];
    fprintf(f, "<tr><th>steps</th><td>%ld to %ld (%ld rows of metrics.csv)</td></tr>\n", first,
            last, t->n_rows);
    if (sc >= 0) {
        double secs = t->v[(t->n_rows - 1) * t->n_cols + sc];
        fprintf(f, "<tr><th>training time</th><td>");
        put_seconds(f, secs);
        fprintf(f, " (metrics.csv's seconds; a pause between sessions not counted)</td></tr>\n");
        if (secs > 0)
            fprintf(f, "<tr><th>steps per second</th><td>%.2f</td></tr>\n",
                    (double)(last - first + 1) / secs);
    }
    if (n_ss) {
        fprintf(f, "<tr><th>machine</th><td>");
        put_text(f, ss[n_ss - 1].cpu);
        fprintf(f, ", %d BLAS thread%s (the last session's)</td></tr>\n", ss[n_ss - 1].threads,
                ss[n_ss - 1].threads == 1 ? "" : "s");
    } else {
        fprintf(f, "<tr><th>machine</th><td>not recorded (no sessions.csv)</td></tr>\n");
    }
    fprintf(f, "</table>\n");
    if (!n_ss)
        return;
    fprintf(f, "<h3>Sessions</h3>\n<table class=\"sessions\">\n<tr><th>steps</th><th>started "
            "(UTC)</th><th>threads</th><th>CPU</th><th>time</th><th>steps/s</th></tr>\n");
    if (ss[0].first > 1)
        fprintf(f, "<tr><td>1 to %ld</td><td colspan=\"5\">not recorded</td></tr>\n",
                ss[0].first - 1);
    for (int i = 0; i < n_ss; i++) {
        char when[32];
        struct tm tm;
        gmtime_r(&ss[i].started, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(f, "<tr%s><td>%ld to %ld%s</td><td>%s</td><td class=\"n\">%d</td><td>",
                ss[i].first > 1 ? " class=\"resumed\"" : "", ss[i].first, ss[i].last,
                ss[i].first > 1 ? " (resumed)" : "", when, ss[i].threads);
        put_text(f, ss[i].cpu);
        fprintf(f, "</td>");
        if (sc >= 0 && ss[i].last >= ss[i].first) {
            double s = seconds_at(t, sc, ss[i].last) - seconds_at(t, sc, ss[i].first - 1);
            fprintf(f, "<td class=\"n\">");
            put_seconds(f, s);
            fprintf(f, "</td><td class=\"n\">");
            if (s > 0)
                fprintf(f, "%.2f", (double)(ss[i].last - ss[i].first + 1) / s);
            fprintf(f, "</td>");
        } else {
            fprintf(f, "<td></td><td></td>");
        }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
}

static void put_charts(FILE *f, const struct genrt_model *m, const struct genrt_report_csv *t,
                       int sc, const struct genrt_report_session *ss, int n_ss)
{
    fprintf(f, "<h2 id=\"metrics\">Metrics</h2>\n<div class=\"charts\">\n");
    double *marks = genrt_file_xcalloc((size_t)n_ss + 1, sizeof *marks);
    int n_marks = 0;
    for (int i = 0; i < n_ss; i++)
        if (ss[i].first > 1)
            marks[n_marks++] = (double)ss[i].first;
    struct genrt_report_series *se = genrt_file_xcalloc((size_t)t->n_cols, sizeof *se);
    int done = 0;
    for (int g = 0; g < N_GROUPS; g++) {
        for (int c0 = 1; c0 < t->n_cols; c0++) {
            if (c0 == sc || group_of(m, t->names[c0]) != (enum group)g)
                continue;
            int n = 0;
            for (int c = c0; c < t->n_cols; c++) {
                if (c == sc || group_of(m, t->names[c]) != (enum group)g)
                    continue;
                se[n++] = (struct genrt_report_series){t->names[c], t->v + c, t->n_cols};
                if (g == G_OTHER)
                    break; /* a chart each */
            }
            struct genrt_report_chart ch = {
                groups[g].title ? groups[g].title : t->names[c0], "step",
                groups[g].ylabel ? groups[g].ylabel : t->names[c0],
                t->n_rows, t->v, t->n_cols, n, se, n_marks, marks};
            genrt_report_chart_svg(f, &ch);
            done++;
            if (g != G_OTHER)
                break;
        }
    }
    if (!done)
        fprintf(f, "<p class=\"note\">metrics.csv has no metric columns.</p>\n");
    fprintf(f, "</div>\n");
    free(se);
    free(marks);
}

static int put_grids(FILE *f, const char *dir, long last_step, time_t since,
                     struct genrt_err *err)
{
    long n;
    struct grid *g = list_grids(dir, last_step, since, &n);
    fprintf(f, "<h2 id=\"samples\">Samples</h2>\n");
    if (!n)
        fprintf(f, "<p class=\"note\">No sample grids yet (samples/step-NNNNNN.png).</p>\n");
    long shown = n < MAX_GRIDS ? n : MAX_GRIDS;
    if (shown < n)
        fprintf(f, "<p class=\"note\">%ld of the %ld grids, evenly spaced.</p>\n", shown, n);
    fprintf(f, "<div class=\"grids\">\n");
    long bytes = 0;
    int rc = 0;
    for (long k = 0; k < shown; k++) {
        long i = shown == n ? k : (shown > 1 ? k * (n - 1) / (shown - 1) : n - 1);
        unsigned char *png;
        size_t len;
        if (genrt_file_read_all(g[i].path, &png, &len, err)) {
            rc = -1;
            break;
        }
        if (bytes + (long)len > MAX_GRID_BYTES && k != shown - 1) {
            free(png);
            continue; /* the last grid always; the others while they fit */
        }
        bytes += (long)len;
        fprintf(f, "<figure><img alt=\"samples at step %ld\" src=\"data:image/png;base64,",
                g[i].step);
        put_base64(f, png, len);
        fprintf(f, "\"><figcaption>step %ld</figcaption></figure>\n", g[i].step);
        free(png);
    }
    fprintf(f, "</div>\n");
    for (long i = 0; i < n; i++)
        free(g[i].path);
    free(g);
    return rc;
}

static void put_pre(FILE *f, const char *id, const char *title, const char *text,
                    const char *missing)
{
    fprintf(f, "<h2 id=\"%s\">%s</h2>\n", id, title);
    if (!text || !text[0]) {
        fprintf(f, "<p class=\"note\">%s</p>\n", missing);
        return;
    }
    fprintf(f, "<pre>");
    put_text(f, text);
    fprintf(f, "</pre>\n");
}

int genrt_report_write(struct genrt_report *r, const char *dir, const char *out,
                       struct genrt_err *err)
{
    const struct genrt_model *m = r->m;
    double t0 = genrt_progress_now();
    struct genrt_report_csv t;
    char *mpath = genrt_file_join(dir, "metrics.csv");
    char *spath = genrt_file_join(dir, "sessions.csv");
    struct genrt_report_session *ss = NULL;
    int n_ss = 0;
    int rc = genrt_report_read_csv(mpath, &t, err);
    if (!rc && (t.n_cols < 1 || strcmp(t.names[0], "step"))) {
        rc = genrt_err_set(err, "%s: the first column is '%s', not 'step'", mpath, t.names[0]);
        genrt_report_csv_free(&t);
    }
    if (!rc && genrt_report_read_sessions(spath, &ss, &n_ss, err)) {
        rc = -1;
        genrt_report_csv_free(&t);
    }
    free(mpath);
    free(spath);
    if (rc)
        return -1;
    int sc = -1;
    for (int c = 1; c < t.n_cols; c++)
        if (!strcmp(t.names[c], "seconds"))
            sc = c;
    if (!r->drawn)
        draw_networks(r);

    struct genrt_file af;
    if (genrt_file_create(&af, out, err)) {
        genrt_report_csv_free(&t);
        free(ss);
        return -1;
    }
    FILE *f = af.f;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    put_text(f, m->name);
    fprintf(f, ": run report</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
    put_text(f, m->name);
    fprintf(f, "</h1>\n<p class=\"sub\">");
    put_text(f, m->objective_name);
    fprintf(f, " from ");
    put_text(f, m->spec);
    fprintf(f, "; run directory ");
    put_text(f, dir);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(f, "; report of %s UTC</p>\n", when);

    put_run(f, &t, sc, ss, n_ss);
    put_charts(f, m, &t, sc, ss, n_ss);
    long last = t.n_rows ? (long)t.v[(t.n_rows - 1) * t.n_cols] : 0;
    /* grids older than the run's first session are a replaced run's */
    rc = put_grids(f, dir, last, n_ss && ss[0].first == 1 ? ss[0].started : 0, err);
    if (!rc) {
        fprintf(f, "<h2 id=\"networks\">Networks</h2>\n");
        if (r->diagram)
            fprintf(f, "<div class=\"diagram\">%s</div>\n", r->diagram);
        else
            fprintf(f, "<p class=\"note\">%s.</p>\n", r->note);
        put_pre(f, "summary", "Summary", m->spec_summary,
                "This trainer has no genc --summary table of its spec.");
        put_pre(f, "spec", "Spec", m->spec_text, "This trainer has no copy of its spec.");
        fprintf(f, "</body>\n</html>\n");
    }
    genrt_report_csv_free(&t);
    free(ss);
    if (rc) {
        genrt_file_discard(&af);
        return -1;
    }
    if (genrt_file_commit(&af, err))
        return -1;
    r->last_cost = genrt_progress_now() - t0;
    return 0;
}

/* ------------------------------------------------------------ X report */

int genrt_cmd_report(const struct genrt_cli *c, const struct genrt_opts *o)
{
    const char *dir = o->operand;
    struct genrt_err err;
    struct stat st;
    if (!dir[0])
        return genrt_cli_fail(c, "report: RUN_DIR is empty");
    if (stat(dir, &st) != 0)
        return genrt_cli_fail(c, "report: %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return genrt_cli_fail(c, "report: %s is not a directory (give the directory train wrote, "
                              "its --out)", dir);
    char *metrics = genrt_file_join(dir, "metrics.csv");
    char *out;
    if (o->output) {
        out = genrt_file_xmalloc(strlen(o->output) + 1);
        strcpy(out, o->output);
    } else {
        out = genrt_file_join(dir, "report.html");
    }
    size_t ol = strlen(out);
    int rc = 0;
    unsigned char *buf = NULL;
    size_t len;
    char *header = genrt_run_metrics_header(c->m);
    if (access(metrics, F_OK) != 0) {
        rc = genrt_cli_fail(c, "report: %s has no metrics.csv (is it a run directory of %s?)",
                            dir, c->prog);
    } else if (ol < 6 || strcmp(out + ol - 5, ".html")) {
        rc = genrt_cli_fail(c, "report: -o %s: the report is a web page; name it FILE.html", out);
    } else if (lstat(out, &st) == 0 && !S_ISREG(st.st_mode)) {
        rc = genrt_cli_fail(c, "report: %s exists and is not a regular file; give another -o", out);
    } else if (genrt_file_read_all(metrics, &buf, &len, &err)) {
        rc = genrt_cli_fail_err(c, &err);
    } else {
        size_t hl = strcspn((char *)buf, "\n");
        if (hl != strlen(header) || strncmp((char *)buf, header, hl))
            rc = genrt_cli_fail(c, "report: %s: columns '%.*s' are not this model's '%s' (a run "
                                "of another trainer?)", metrics, (int)(hl < 200 ? hl : 200),
                                (char *)buf, header);
    }
    if (!rc) {
        struct genrt_report r;
        genrt_report_init(&r, c->m);
        if (genrt_report_write(&r, dir, out, &err))
            rc = genrt_cli_fail_err(c, &err);
        else
            printf("report: %s\n", out);
        genrt_report_free(&r);
    }
    free(buf);
    free(header);
    free(metrics);
    free(out);
    return rc;
}
