/* genrt_mpi.c: see genrt_mpi.h.  Built twice: into libgenrt without
 * GENC_MPI (one rank), and with -DGENC_MPI for trainers built with MPI=1. */
#include "genrt_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef GENC_MPI
#include <mpi.h>

static int rank, size = 1, up;
static double comm_seconds;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double genrt_mpi_comm_seconds(void) { return comm_seconds; }

/* MPI_ERRORS_RETURN is set on the world: an error is reported here, then
 * the job ends (a half-finished collective cannot be recovered from). */
static void check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS)
        return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    fprintf(stderr, "rank %d: error: %s failed: %.*s; ending the job\n", rank, what, len, msg);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

void genrt_mpi_init(int *argc, char ***argv)
{
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "error: MPI_Init failed\n");
        exit(1);
    }
    up = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
}

void genrt_mpi_finalize(void)
{
    if (up)
        MPI_Finalize();
    up = 0;
}

int genrt_mpi_rank(void) { return rank; }
int genrt_mpi_size(void) { return size; }

/* x[n] /= the number of ranks */
static void scale(void *x, long n, size_t real_size)
{
    if (real_size == 8) {
        double *d = x, s = 1.0 / size;
        for (long i = 0; i < n; i++)
            d[i] *= s;
    } else {
        float *f = x, s = 1.0f / (float)size;
        for (long i = 0; i < n; i++)
            f[i] *= s;
    }
}

void genrt_mpi_mean(void *x, long n, size_t real_size)
{
    if (size == 1)
        return;
    MPI_Datatype t = real_size == 8 ? MPI_DOUBLE : MPI_FLOAT;
    double t0 = now();
    /* MPI counts are ints: a tensor holds at most 2^31 - 1 values */
    check(MPI_Allreduce(MPI_IN_PLACE, x, (int)n, t, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    scale(x, n, real_size);
    comm_seconds += now() - t0;
}

/* The all-reduces in flight: their requests and buffers, by slot. */
static struct pending {
    MPI_Request req;
    void *x;
    long n;
    size_t real_size;
} *pending;
static int n_pending;

void genrt_mpi_start(int k, void *x, long n, size_t real_size)
{
    if (size == 1)
        return;
    double t0 = now();
    if (k >= n_pending) {
        struct pending *p = realloc(pending, (size_t)(k + 1) * sizeof *p);
        if (!p) {
            fprintf(stderr, "rank %d: error: out of memory\n", rank);
            genrt_mpi_abort(1);
        }
        for (int j = n_pending; j <= k; j++)
            p[j].req = MPI_REQUEST_NULL;
        pending = p;
        n_pending = k + 1;
    }
    struct pending *p = &pending[k];
    p->x = x, p->n = n, p->real_size = real_size;
    check(MPI_Iallreduce(MPI_IN_PLACE, x, (int)n, real_size == 8 ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM,
                         MPI_COMM_WORLD, &p->req), "MPI_Iallreduce");
    /* a test of those in flight lets them progress while the backward goes on
     * (a finished one's request becomes MPI_REQUEST_NULL, which its wait takes) */
    for (int j = 0; j < n_pending; j++) {
        int done;
        if (j != k && pending[j].req != MPI_REQUEST_NULL)
            check(MPI_Test(&pending[j].req, &done, MPI_STATUS_IGNORE), "MPI_Test");
    }
    comm_seconds += now() - t0;
}

void genrt_mpi_wait(int k)
{
    if (size == 1)
        return;
    double t0 = now();
    struct pending *p = &pending[k];
    check(MPI_Wait(&p->req, MPI_STATUS_IGNORE), "MPI_Iallreduce");
    scale(p->x, p->n, p->real_size);
    comm_seconds += now() - t0;
}

void genrt_mpi_sum(double *x, int n)
{
    if (size > 1)
        check(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
}

int genrt_mpi_max(int v)
{
    if (size > 1)
        check(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD),
              "MPI_Allreduce");
    return v;
}

int genrt_mpi_max_within(int v, double seconds, int *late)
{
    *late = 0;
    if (size == 1)
        return v;
    MPI_Request req;
    int done = 0;
    check(MPI_Iallreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &req),
          "MPI_Iallreduce");
    for (double end = now() + seconds; !done;) {
        check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), "MPI_Test");
        if (!done && now() > end) {
            *late = 1;
            return v;
        }
        if (!done)
            nanosleep(&(struct timespec){0, 1000000}, NULL); /* 1 ms */
    }
    return v;
}

int genrt_mpi_bcast(int v)
{
    if (size > 1)
        check(MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Bcast");
    return v;
}

int genrt_mpi_same(uint64_t h)
{
    if (size == 1)
        return 1;
    uint64_t lo = h, hi = h;
    check(MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD),
          "MPI_Allreduce");
    check(MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD),
          "MPI_Allreduce");
    return lo == hi;
}

void genrt_mpi_abort(int code)
{
    if (up && size > 1)
        MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

#else /* one process */

void genrt_mpi_init(int *argc, char ***argv) { (void)argc, (void)argv; }
void genrt_mpi_finalize(void) {}
int genrt_mpi_rank(void) { return 0; }
int genrt_mpi_size(void) { return 1; }
void genrt_mpi_mean(void *x, long n, size_t real_size) { (void)x, (void)n, (void)real_size; }
void genrt_mpi_start(int k, void *x, long n, size_t real_size) { (void)k, (void)x, (void)n, (void)real_size; }
void genrt_mpi_wait(int k) { (void)k; }
void genrt_mpi_sum(double *x, int n) { (void)x, (void)n; }
int genrt_mpi_max(int v) { return v; }
int genrt_mpi_bcast(int v) { return v; }
int genrt_mpi_same(uint64_t h) { (void)h; return 1; }
int genrt_mpi_max_within(int v, double seconds, int *late) { (void)seconds; *late = 0; return v; }
double genrt_mpi_comm_seconds(void) { return 0; }
void genrt_mpi_abort(int code) { exit(code); }

#endif
