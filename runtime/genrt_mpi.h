/* genrt_mpi.h: data-parallel training over MPI, and its single-process
 * stand-in.
 *
 * libgenrt's genrt_mpi.o is the stand-in: one rank, every collective the
 * identity.  A trainer built with MPI=1 links genrt_mpi.c compiled with
 * -DGENC_MPI (Open MPI's mpicc) in its place, and runs as one rank of
 * MPI_COMM_WORLD.  Every rank reads the same data and draws the same global
 * batch; each computes its rows (genrt_model.h, struct genrt_mpi_step) and
 * the gradients are averaged over the ranks (genrt_mpi_mean).  Rank 0
 * writes every file and prints the progress.  An MPI error is fatal: a
 * message from the rank that saw it, then MPI_Abort, so a job never hangs
 * on a rank that is gone. */
#ifndef GENRT_MPI_H
#define GENRT_MPI_H

#include <stddef.h>
#include <stdint.h>

#include "genrt_model.h"

/* Called first by genrt_main: MPI_Init (MPI=1), the rank and the size. */
void genrt_mpi_init(int *argc, char ***argv);
/* At the end of genrt_main: MPI_Finalize. */
void genrt_mpi_finalize(void);
int genrt_mpi_rank(void);
int genrt_mpi_size(void);

/* Collectives over every rank; each rank calls each of them, in the same
 * order.  sum: x[n] summed in place.  max: the largest v.  bcast: rank
 * 0's v.  same: whether every rank holds h. */
void genrt_mpi_sum(double *x, int n);
int genrt_mpi_max(int v);
int genrt_mpi_bcast(int v);
int genrt_mpi_same(uint64_t h);
/* genrt_mpi_max, waiting at most `seconds` for the other ranks: on a
 * timeout, *late is set (the job must then end: genrt_mpi_abort). */
int genrt_mpi_max_within(int v, double seconds, int *late);

/* Seconds this rank has spent in genrt_mpi_mean (the gradients' and
 * sync_batchnorm's all-reduce, waits for slower ranks included). */
double genrt_mpi_comm_seconds(void);

/* Ends the whole job at once with exit status code (the other ranks too). */
void genrt_mpi_abort(int code);

#endif
