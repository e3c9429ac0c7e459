/* rnnplast sweep on MPI ranks (built only by `make mpi` into build/rnnplast-mpi).

   Rank 0 owns the grid, the CSV and the resume logic (sweep.c); it hands one
   run at a time to whichever rank is free (runs differ in length), and trains
   too, on a second thread, while its main thread (the only one making MPI
   calls: MPI_THREAD_FUNNELED) dispatches.  Every run is sweep_run() -- the
   code the forked serial workers run -- so a row does not depend on which
   rank, or how many ranks, computed it.  Rank 0 appends each row to the CSV
   and flushes it as it arrives: when a rank dies, Open MPI aborts the job,
   and the same command (serial or MPI) resumes, rerunning only the missing
   runs (docs/SCALING.md).

   Waiting never spins: Open MPI's blocking receive polls a core at 100%,
   which would take a core from training, so waits are MPI_Iprobe and a
   short sleep. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "tool.h"

#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern void openblas_set_num_threads(int num_threads);

enum { TAG_JOB = 1, TAG_STOP = 2, TAG_RESULT = 3 };

/* Messages are raw bytes: the ranks run the same binary (and must, for the
   rows to be bit-identical: same code, same OpenBLAS kernels). */
typedef struct wire_job {
    int64_t idx;
    int32_t rule, floss;
    double gain;
    uint64_t seed;
} wire_job;

typedef struct wire_result {
    int64_t idx;
    run_result res;
} wire_result;

static void sleep_us(long us)
{
    struct timespec ts = {0, us * 1000L};
    nanosleep(&ts, NULL);
}

/* Test hook (tests/mpi_smoke.sh): RNNPLAST_MPI_TEST_KILL=R:K makes rank R
   die by SIGKILL when it is handed its run number K+1 (after K finished). */
static void maybe_die(int rank, size_t runs_done)
{
    const char *e = getenv("RNNPLAST_MPI_TEST_KILL");
    int r;
    unsigned long k;
    if (e && sscanf(e, "%d:%lu", &r, &k) == 2 && r == rank && runs_done == k)
        raise(SIGKILL);
}

/* ---- rank 0's training thread ------------------------------------------ */

typedef struct local {
    pthread_mutex_t m;
    pthread_cond_t c;
    sweep *s;
    long job;   /* index to run, -1 idle, -2 exit */
    int done;   /* res holds the result of `job_done` */
    long job_done;
    size_t runs;
    run_result res;
} local;

static void *local_main(void *arg)
{
    local *L = arg;
    pthread_mutex_lock(&L->m);
    for (;;) {
        while (L->job == -1)
            pthread_cond_wait(&L->c, &L->m);
        if (L->job == -2)
            break;
        long idx = L->job;
        pthread_mutex_unlock(&L->m);
        maybe_die(0, L->runs);
        run_result res;
        sweep_run(L->s, &L->s->jobs[idx], &res);
        pthread_mutex_lock(&L->m);
        L->res = res;
        L->job_done = idx;
        L->done = 1;
        L->runs++;
        L->job = -1;
        pthread_cond_broadcast(&L->c);
    }
    pthread_mutex_unlock(&L->m);
    return NULL;
}

/* ---- rank 0: dispatch --------------------------------------------------- */

static long next_job(sweep *s, size_t *next, int stopped)
{
    while (!stopped && *next < s->nj) {
        size_t i = (*next)++;
        if (!s->jobs[i].row)
            return (long)i;
    }
    return -1;
}

/* Send job idx to rank r, or STOP when idx < 0. */
static void hand_out(sweep *s, int r, long idx)
{
    if (idx < 0) {
        MPI_Send(NULL, 0, MPI_BYTE, r, TAG_STOP, MPI_COMM_WORLD);
        return;
    }
    const sweep_job *j = &s->jobs[idx];
    wire_job w = {idx, (int32_t)j->rule, (int32_t)j->floss, j->gain, j->seed};
    MPI_Send(&w, (int)sizeof w, MPI_BYTE, r, TAG_JOB, MPI_COMM_WORLD);
}

static void dispatch(sweep *s, int size, int local_compute, size_t *per_rank)
{
    size_t next = 0;
    int stopped = 0, outstanding = 0, local_busy = 0;
    local L;
    pthread_t th;
    memset(&L, 0, sizeof L);
    L.s = s;
    L.job = -1;
    pthread_mutex_init(&L.m, NULL);
    pthread_cond_init(&L.c, NULL);
    if (local_compute && pthread_create(&th, NULL, local_main, &L) != 0) {
        fprintf(stderr, "rnnplast sweep: rank 0 cannot start its training thread; it only dispatches\n");
        local_compute = 0;
    }
    for (int r = 1; r < size; r++) {
        long idx = next_job(s, &next, stopped);
        hand_out(s, r, idx);
        outstanding += idx >= 0;
    }
    if (local_compute) {
        long idx = next_job(s, &next, stopped);
        if (idx >= 0) {
            pthread_mutex_lock(&L.m);
            L.job = idx;
            pthread_cond_broadcast(&L.c);
            pthread_mutex_unlock(&L.m);
            local_busy = 1;
        }
    }
    while (outstanding > 0 || local_busy) {
        int busy = 0, flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &st);
        if (flag) {
            wire_result w;
            MPI_Recv(&w, (int)sizeof w, MPI_BYTE, st.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            outstanding--;
            per_rank[st.MPI_SOURCE]++;
            if (w.idx >= 0 && (size_t)w.idx < s->nj && !s->jobs[w.idx].row)
                sweep_record(s, &s->jobs[w.idx], &w.res);
            if (s->stop_after && s->finished >= s->stop_after)
                stopped = 1;
            long idx = next_job(s, &next, stopped);
            hand_out(s, st.MPI_SOURCE, idx);
            outstanding += idx >= 0;
            busy = 1;
        }
        if (local_busy) {
            pthread_mutex_lock(&L.m);
            if (!L.done && !busy) {
                /* the thread's result wakes this at once; a rank's within 1 ms */
                struct timespec dl;
                clock_gettime(CLOCK_REALTIME, &dl);
                dl.tv_nsec += 1000000L;
                if (dl.tv_nsec >= 1000000000L) {
                    dl.tv_sec++;
                    dl.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&L.c, &L.m, &dl);
            }
            if (L.done) {
                L.done = 0;
                run_result res = L.res;
                long done_idx = L.job_done;
                pthread_mutex_unlock(&L.m);
                per_rank[0]++;
                sweep_record(s, &s->jobs[done_idx], &res);
                if (s->stop_after && s->finished >= s->stop_after)
                    stopped = 1;
                long idx = next_job(s, &next, stopped);
                pthread_mutex_lock(&L.m);
                if (idx >= 0) {
                    L.job = idx;
                    pthread_cond_broadcast(&L.c);
                } else {
                    local_busy = 0;
                }
            }
            pthread_mutex_unlock(&L.m);
        } else if (!busy) {
            sleep_us(1000);
        }
    }
    if (local_compute) {
        pthread_mutex_lock(&L.m);
        L.job = -2;
        pthread_cond_broadcast(&L.c);
        pthread_mutex_unlock(&L.m);
        pthread_join(th, NULL);
    }
    pthread_mutex_destroy(&L.m);
    pthread_cond_destroy(&L.c);
}

/* ---- ranks 1..: train what rank 0 hands out ---------------------------- */

static void work(sweep *s, int rank)
{
    size_t runs = 0;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
            sleep_us(200);
            continue;
        }
        if (st.MPI_TAG != TAG_JOB) {
            MPI_Recv(NULL, 0, MPI_BYTE, 0, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            break;
        }
        wire_job w;
        MPI_Recv(&w, (int)sizeof w, MPI_BYTE, 0, TAG_JOB, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        maybe_die(rank, runs);
        sweep_job j;
        memset(&j, 0, sizeof j);
        j.rule = (rp_rule_kind)w.rule;
        j.floss = (floss_kind)w.floss;
        j.gain = w.gain;
        j.seed = w.seed;
        wire_result out;
        memset(&out, 0, sizeof out);
        out.idx = w.idx;
        sweep_run(s, &j, &out.res);
        runs++;
        MPI_Send(&out, (int)sizeof out, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
    }
}

/* ---- thread budget ------------------------------------------------------ */

/* 0 when (ranks on this node) x threads fits the node's cores and each rank
   may run on at least `threads` cores; else 2 with a message from the lowest
   offending rank.  Cores are the union of the node's ranks' affinity masks
   (what mpirun or Slurm gave the job, not the machine). */
static int check_budget(const sweep *s, int rank, int size)
{
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    int local_n;
    MPI_Comm_size(node, &local_n);
    cpu_set_t mine, all;
    CPU_ZERO(&mine);
    if (sched_getaffinity(0, sizeof mine, &mine) != 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        for (long i = 0; i < c && i < CPU_SETSIZE; i++)
            CPU_SET((int)i, &mine);
    }
    MPI_Allreduce(&mine, &all, (int)sizeof mine, MPI_BYTE, MPI_BOR, node);
    MPI_Comm_free(&node);
    int n_mine = CPU_COUNT(&mine), n_all = CPU_COUNT(&all);
    int over = (size_t)local_n * s->threads > (size_t)n_all;
    int bound = s->threads > (size_t)n_mine;
    int bad = !s->oversubscribe && (over || bound);
    int first = bad ? rank : size, lowest;
    MPI_Allreduce(&first, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (lowest == size)
        return 0;
    if (rank == lowest) {
        if (bound)
            fprintf(stderr, "rnnplast sweep: rank %d is bound to %d core(s), fewer than --threads %zu; "
                    "start mpirun with --map-by slot:PE=%zu (or --bind-to none), or pass --oversubscribe\n",
                    rank, n_mine, s->threads, s->threads);
        else
            fprintf(stderr, "rnnplast sweep: %d ranks x %zu BLAS threads on a node with %d core(s) would "
                    "oversubscribe it; use fewer ranks per node or --threads, or pass --oversubscribe\n",
                    local_n, s->threads, n_all);
        fflush(stderr);
    }
    return 2;
}

/* ---- the driver --------------------------------------------------------- */

int sweep_mpi(sweep *s)
{
    int provided = MPI_THREAD_SINGLE, rank = 0, size = 1;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "rnnplast sweep: MPI_Init failed\n");
        sweep_free(s);
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int status = check_budget(s, rank, size);

    /* Every rank parsed its own command line: they must agree on the run
       configuration (the grid is rank 0's alone). */
    if (!status) {
        char cfg[sizeof s->cfgline];
        memcpy(cfg, s->cfgline, sizeof cfg);
        MPI_Bcast(cfg, (int)sizeof cfg, MPI_CHAR, 0, MPI_COMM_WORLD);
        int differ = strcmp(cfg, s->cfgline) != 0, any;
        MPI_Allreduce(&differ, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (any) {
            if (rank == 0)
                fprintf(stderr, "rnnplast sweep: the ranks were started with different options\n");
            status = 2;
        }
    }
    if (!status) {
        if (rank == 0)
            status = sweep_open(s);
        else if (s->curves && mkdir(s->curves, 0777) != 0 && errno != EEXIST)
            fprintf(stderr, "rnnplast sweep: rank %d cannot create %s\n", rank, s->curves);
        MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    }
    if (status) {
        sweep_free(s);
        MPI_Finalize();
        return status;
    }
    openblas_set_num_threads((int)s->threads);
    int local_compute = size == 1 || provided >= MPI_THREAD_FUNNELED;
    if (rank == 0) {
        if (!s->quiet)
            fprintf(stderr, "sweep: %zu runs (%zu already done) on %d MPI rank%s x %zu BLAS thread%s%s\n",
                    s->nj, s->kept, size, size == 1 ? "" : "s", s->threads, s->threads == 1 ? "" : "s",
                    local_compute ? "" : " (rank 0 only dispatches)");
        size_t *per_rank = calloc((size_t)size, sizeof *per_rank);
        if (!per_rank) {
            MPI_Abort(MPI_COMM_WORLD, 1);
            return 1;
        }
        double t0 = now_seconds();
        dispatch(s, size, local_compute, per_rank);
        double el = now_seconds() - t0;
        if (!s->quiet) {
            /* How the runs were shared (docs/SCALING.md) */
            fprintf(stderr, "sweep: %zu runs in %.2f s; runs per rank:", s->finished, el);
            for (int r = 0; r < size; r++)
                fprintf(stderr, " %zu", per_rank[r]);
            fprintf(stderr, "\n");
        }
        free(per_rank);
        status = sweep_close(s);
    } else {
        work(s, rank);
        sweep_free(s);
    }
    MPI_Finalize();
    return status;
}
