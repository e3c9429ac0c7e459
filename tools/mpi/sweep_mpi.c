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

enum { TAG_JOB = 1, TAG_STOP = 2, TAG_RESULT = 3, TAG_HEARTBEAT = 4 };

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

/* ---- the training thread of every rank ---------------------------------- */

/* Each rank trains on a second thread so that its main thread, the only one
   making MPI calls, stays free: rank 0's to dispatch, the others' to send a
   heartbeat while a run lasts. */
typedef struct local {
    pthread_mutex_t m;
    pthread_cond_t c;
    const sweep *s;
    int rank;
    int state; /* 0 idle, 1 run `spec`, 2 done (res), 3 exit */
    long idx;  /* the grid index of spec */
    sweep_job spec;
    size_t runs;
    run_result res;
} local;

static void *local_main(void *arg)
{
    local *L = arg;
    pthread_mutex_lock(&L->m);
    for (;;) {
        while (L->state == 0 || L->state == 2)
            pthread_cond_wait(&L->c, &L->m);
        if (L->state == 3)
            break;
        sweep_job spec = L->spec;
        pthread_mutex_unlock(&L->m);
        maybe_die(L->rank, L->runs);
        run_result res;
        sweep_run(L->s, &spec, &res);
        pthread_mutex_lock(&L->m);
        L->res = res;
        L->runs++;
        L->state = 2;
        pthread_cond_broadcast(&L->c);
    }
    pthread_mutex_unlock(&L->m);
    return NULL;
}

static int local_start(local *L, pthread_t *th, const sweep *s, int rank)
{
    memset(L, 0, sizeof *L);
    L->s = s;
    L->rank = rank;
    pthread_mutex_init(&L->m, NULL);
    pthread_cond_init(&L->c, NULL);
    if (pthread_create(th, NULL, local_main, L) != 0) {
        pthread_mutex_destroy(&L->m);
        pthread_cond_destroy(&L->c);
        return -1;
    }
    return 0;
}

static void local_give(local *L, long idx, const sweep_job *spec)
{
    pthread_mutex_lock(&L->m);
    L->idx = idx;
    L->spec = *spec;
    L->state = 1;
    pthread_cond_broadcast(&L->c);
    pthread_mutex_unlock(&L->m);
}

/* Waits up to wait_us for the run to finish; 1 and its result when it has. */
static int local_poll(local *L, long wait_us, long *idx, run_result *res)
{
    pthread_mutex_lock(&L->m);
    if (L->state != 2 && wait_us > 0) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += wait_us * 1000L;
        while (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&L->c, &L->m, &dl);
    }
    int done = L->state == 2;
    if (done) {
        *idx = L->idx;
        *res = L->res;
        L->state = 0;
    }
    pthread_mutex_unlock(&L->m);
    return done;
}

static void local_stop(local *L, pthread_t th)
{
    pthread_mutex_lock(&L->m);
    L->state = 3;
    pthread_cond_broadcast(&L->c);
    pthread_mutex_unlock(&L->m);
    pthread_join(th, NULL);
    pthread_mutex_destroy(&L->m);
    pthread_cond_destroy(&L->c);
}

/* ---- rank 0: dispatch --------------------------------------------------- */

typedef struct queue {
    size_t next; /* grid order */
    long *redo;  /* runs of ranks presumed dead, handed out first */
    size_t nredo;
    int stopped; /* --stop-after reached: hand out nothing more */
} queue;

static long next_job(sweep *s, queue *q)
{
    if (q->stopped)
        return -1;
    while (q->nredo) {
        long i = q->redo[--q->nredo];
        if (!s->jobs[i].row)
            return i;
    }
    while (q->next < s->nj) {
        size_t i = q->next++;
        if (!s->jobs[i].row)
            return (long)i;
    }
    return -1;
}

/* Send job idx to rank r, or STOP when idx < 0 (noted in stop[r]). */
static void hand_out(sweep *s, int r, long idx, int *stop)
{
    if (idx < 0) {
        MPI_Send(NULL, 0, MPI_BYTE, r, TAG_STOP, MPI_COMM_WORLD);
        stop[r] = 1;
        return;
    }
    const sweep_job *j = &s->jobs[idx];
    wire_job w = {idx, (int32_t)j->rule, (int32_t)j->floss, j->gain, j->seed};
    MPI_Send(&w, (int)sizeof w, MPI_BYTE, r, TAG_JOB, MPI_COMM_WORLD);
}

/* Runs every job without a row on the ranks; returns how many ranks are
   presumed dead at the end (silent for s->mpi_timeout seconds while holding
   a run, which was handed to another rank). */
static int dispatch(sweep *s, int size, int local_compute, size_t *per_rank)
{
    queue q = {0, calloc(s->nj + 1, sizeof(long)), 0, 0};
    long *busy = malloc((size_t)size * sizeof *busy);   /* the run a rank holds, -1 none */
    double *last = malloc((size_t)size * sizeof *last); /* when a rank was last heard */
    int *dead = calloc((size_t)size, sizeof *dead);
    int *stop = calloc((size_t)size, sizeof *stop); /* STOP sent */
    if (!q.redo || !busy || !last || !dead || !stop) {
        fprintf(stderr, "rnnplast sweep: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int outstanding = 0, local_busy = 0, ndead = 0;
    local L;
    pthread_t th;
    if (local_compute && local_start(&L, &th, s, 0) != 0) {
        fprintf(stderr,
                "rnnplast sweep: rank 0 cannot start its training thread; it only dispatches\n");
        local_compute = 0;
    }
    double now = now_seconds();
    for (int r = 1; r < size; r++) {
        busy[r] = next_job(s, &q);
        last[r] = now;
        hand_out(s, r, busy[r], stop);
        outstanding += busy[r] >= 0;
    }
    if (local_compute) {
        long idx = next_job(s, &q);
        if (idx >= 0) {
            local_give(&L, idx, &s->jobs[idx]);
            local_busy = 1;
        }
    }
    while (outstanding > 0 || local_busy) {
        int active = 0, flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        now = now_seconds();
        if (flag) {
            int r = st.MPI_SOURCE;
            active = 1;
            last[r] = now;
            if (dead[r]) {
                dead[r] = 0;
                ndead--;
                fprintf(stderr, "rnnplast sweep: rank %d is alive after all\n", r);
            }
            if (st.MPI_TAG == TAG_RESULT) {
                wire_result w;
                MPI_Recv(&w, (int)sizeof w, MPI_BYTE, r, TAG_RESULT, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE);
                if (busy[r] >= 0 && busy[r] == w.idx) {
                    busy[r] = -1;
                    outstanding--;
                }
                per_rank[r]++;
                /* a run handed out twice (its first rank presumed dead) gives one row */
                if (w.idx >= 0 && (size_t)w.idx < s->nj && !s->jobs[w.idx].row)
                    sweep_record(s, &s->jobs[w.idx], &w.res);
                if (s->stop_after && s->finished >= s->stop_after)
                    q.stopped = 1;
                if (busy[r] < 0) {
                    busy[r] = next_job(s, &q);
                    hand_out(s, r, busy[r], stop);
                    outstanding += busy[r] >= 0;
                }
            } else { /* a heartbeat */
                MPI_Recv(NULL, 0, MPI_BYTE, r, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            }
        }
        for (int r = 1; r < size && s->mpi_timeout > 0; r++)
            if (busy[r] >= 0 && now - last[r] > s->mpi_timeout) {
                char key[160];
                snprintf(key, sizeof key, "%s g %g floss %s seed %llu",
                         rule_name(s->jobs[busy[r]].rule), s->jobs[busy[r]].gain,
                         floss_name(s->jobs[busy[r]].floss),
                         (unsigned long long)s->jobs[busy[r]].seed);
                fprintf(stderr,
                        "%srnnplast sweep: rank %d silent for %.0f s: presumed dead; its run (%s) "
                        "goes to another rank\n",
                        s->prog.tty ? "\n" : "", r, now - last[r], key);
                q.redo[q.nredo++] = busy[r];
                busy[r] = -1;
                outstanding--;
                dead[r] = 1;
                ndead++;
                /* an idle live rank would wait for nothing: none is idle while
                   runs remain (each is handed the next run as it returns one) */
            }
        if (local_busy) {
            long idx;
            run_result res;
            if (local_poll(&L, active ? 0 : 1000, &idx, &res)) {
                per_rank[0]++;
                if (!s->jobs[idx].row)
                    sweep_record(s, &s->jobs[idx], &res);
                if (s->stop_after && s->finished >= s->stop_after)
                    q.stopped = 1;
                idx = next_job(s, &q);
                if (idx >= 0)
                    local_give(&L, idx, &s->jobs[idx]);
                else
                    local_busy = 0;
            }
        } else if (!active) {
            sleep_us(1000);
        }
        /* Runs requeued from a dead rank while every live rank is idle
           (stopped with nothing left) and rank 0 does not train: give them
           to rank 0 by training here. */
        if (!local_compute && q.nredo && outstanding == 0) {
            long idx = next_job(s, &q);
            if (idx >= 0) {
                run_result res;
                sweep_run(s, &s->jobs[idx], &res);
                per_rank[0]++;
                sweep_record(s, &s->jobs[idx], &res);
            }
        }
        /* Requeued runs while rank 0's thread is idle: it takes them. */
        if (local_compute && !local_busy) {
            long idx = next_job(s, &q);
            if (idx >= 0) {
                local_give(&L, idx, &s->jobs[idx]);
                local_busy = 1;
            }
        }
    }
    /* Ranks presumed dead get one more chance to speak (at least 1 s): a
       live rank wrongly presumed dead near the end must not end the job. */
    double until = now_seconds() + (s->mpi_timeout > 1.0 ? s->mpi_timeout : 1.0);
    while (ndead > 0 && now_seconds() < until) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
            sleep_us(1000);
            continue;
        }
        int r = st.MPI_SOURCE;
        if (st.MPI_TAG == TAG_RESULT) {
            wire_result w;
            MPI_Recv(&w, (int)sizeof w, MPI_BYTE, r, TAG_RESULT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            per_rank[r]++;
            if (w.idx >= 0 && (size_t)w.idx < s->nj && !s->jobs[w.idx].row)
                sweep_record(s, &s->jobs[w.idx], &w.res);
        } else {
            MPI_Recv(NULL, 0, MPI_BYTE, r, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
        if (dead[r]) {
            dead[r] = 0;
            ndead--;
            fprintf(stderr, "rnnplast sweep: rank %d is alive after all\n", r);
        }
    }
    /* A rank once presumed dead that came back may still hold a run (done
       by another since): it has not been told to stop yet. */
    for (int r = 1; r < size; r++)
        if (!stop[r] && !dead[r])
            hand_out(s, r, -1, stop);
    if (local_compute)
        local_stop(&L, th);
    free(stop);
    free(q.redo);
    free(busy);
    free(last);
    free(dead);
    return ndead;
}

/* ---- ranks 1..: train what rank 0 hands out ---------------------------- */

static void work(sweep *s, int rank)
{
    local L;
    pthread_t th;
    if (local_start(&L, &th, s, rank) != 0) {
        fprintf(stderr, "rnnplast sweep: rank %d cannot start its training thread\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    /* A heartbeat several times per timeout: rank 0 tells a dead rank from a long run. */
    double hb = s->mpi_timeout > 0 && s->mpi_timeout < 4.0 ? s->mpi_timeout / 4.0 : 1.0,
           last_hb = 0.0;
    int have_job = 0;
    for (;;) {
        double now = now_seconds();
        if (now - last_hb >= hb) {
            MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_HEARTBEAT, MPI_COMM_WORLD);
            last_hb = now;
        }
        if (have_job) {
            wire_result out;
            memset(&out, 0, sizeof out);
            long idx;
            long wait_us = (long)(hb * 1e6 / 2);
            if (local_poll(&L, wait_us < 100000 ? wait_us : 100000, &idx, &out.res)) {
                out.idx = idx;
                MPI_Send(&out, (int)sizeof out, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
                have_job = 0;
            }
            continue;
        }
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
        sweep_job j;
        memset(&j, 0, sizeof j);
        j.rule = (rp_rule_kind)w.rule;
        j.floss = (floss_kind)w.floss;
        j.gain = w.gain;
        j.seed = w.seed;
        local_give(&L, (long)w.idx, &j);
        have_job = 1;
    }
    local_stop(&L, th);
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
            fprintf(
                stderr,
                "rnnplast sweep: rank %d is bound to %d core(s), fewer than --threads %zu; "
                "start mpirun with --map-by slot:PE=%zu (or --bind-to none), or pass --oversubscribe\n",
                rank, n_mine, s->threads, s->threads);
        else
            fprintf(
                stderr,
                "rnnplast sweep: %d ranks x %zu BLAS threads on a node with %d core(s) would "
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
            fprintf(stderr,
                    "sweep: %zu runs (%zu already done) on %d MPI rank%s x %zu BLAS thread%s%s\n",
                    s->nj, s->kept, size, size == 1 ? "" : "s", s->threads,
                    s->threads == 1 ? "" : "s", local_compute ? "" : " (rank 0 only dispatches)");
        size_t *per_rank = calloc((size_t)size, sizeof *per_rank);
        if (!per_rank) {
            MPI_Abort(MPI_COMM_WORLD, 1);
            return 1;
        }
        double t0 = now_seconds();
        int ndead = dispatch(s, size, local_compute, per_rank);
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
        if (ndead) {
            /* MPI_Finalize would wait for the dead rank forever: end the job. */
            fprintf(stderr,
                    "rnnplast sweep: %d rank%s died, %s runs redone by the others; ending the "
                    "MPI job (MPI_Finalize would wait for the dead)\n",
                    ndead, ndead == 1 ? "" : "s", ndead == 1 ? "its" : "their");
            fflush(NULL);
            MPI_Abort(MPI_COMM_WORLD, status ? status : 1);
        }
    } else {
        work(s, rank);
        sweep_free(s);
    }
    MPI_Finalize();
    return status;
}
