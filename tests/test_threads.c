/* Threads: separate handles in separate threads give the same bits as a
   serial run (the library has no global mutable state; API.md, STYLE.md
   "Deterministic").

   The work of one job, on handles of its own: create a network (its
   configuration, parameters and initial state depend on the job; W and U
   from an initializer of the job's kind), run it forward with noise, save
   it and load it back, run the loaded copy; then a trial of every rule kind
   (BPTT, TBPTT, RTRL, e-prop, RFLO; each must succeed), two Adam steps, a
   Lyapunov spectrum, a flossing trial and a batch of the 2af task.  Four jobs run first one after
   the other, then in four threads at once, each thread repeating its job
   (twice, with the jobs assigned to other threads the second time), and
   every number must be bit-identical to the serial run.

   The oracle is the serial run, computed by the same code: what is tested is
   the absence of shared state between handles (a global buffer, a static
   generator, a shared workspace), which would make the threaded results
   differ or the sanitizers (make check-asan; valgrind's own scheduler
   serializes the threads) report a race.

   OpenBLAS: it is set to one thread here, so that every BLAS/LAPACK call
   runs in the calling thread with one fixed summation order; with its own
   thread pool the split of a product could depend on the load, and calls
   from several threads would contend for the pool.  The previous setting is
   restored at the end.  (The test runner links with -pthread through
   check's pkg-config flags.) */
#include "testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

/* OpenBLAS's own controls (declared in its cblas.h, not included here). */
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);

enum { JOBS = 4, NI = 2, NR = 6, NO = 2, NB = 2, T = 12, KLY = 3, NKINDS = 5 };
/* A larger autonomous noisy network: many generator draws per job (shared
   generator state, if there were any, would be hit while threads overlap). */
enum { BIG_N = 32, BIG_B = 8, BIG_T = 40 };
enum { TASK_MAX = 256 }; /* doubles per array of a 2af batch of NB trials (96 with the defaults) */
#define NP (NR * NR + NR * NI + NR + NO * NR + NO)

/* Everything a job computes.  Zeroed before each run, so that two results
   compare field by field. */
typedef struct result {
    double W[NR * NR], U[NR * NI];   /* after the initializer */
    double y[T * NB * NO];           /* forward run */
    double state[NB * NR];           /* state after it */
    double y_loaded[T * NB * NO];    /* the same run of the saved and reloaded net */
    double big_state[BIG_B * BIG_N]; /* state after a long noisy run */
    rp_status rule_st[NKINDS];
    double rule_loss[NKINDS];
    double rule_grad[NKINDS][NP];
    double opt_theta[NP]; /* all parameters after 2 Adam steps with the RFLO gradient */
    double task_x[TASK_MAX], task_tgt[TASK_MAX], task_mask[TASK_MAX]; /* a 2af batch */
    rp_status lyap_st;
    double lyap[KLY];
    rp_status floss_st;
    double floss_F;
    double floss_grad[NP];
    char fail[512]; /* first unexpected failure, "" if none */
} result;

typedef struct job {
    int k;           /* which configuration and data */
    const char *dir; /* scratch directory for save/load */
    result *out;
} job;

#define FAIL(r, ...)                                           \
    do {                                                       \
        if (!(r)->fail[0])                                     \
            snprintf((r)->fail, sizeof(r)->fail, __VA_ARGS__); \
    } while (0)

/* Copy the five blocks of g into dst (NP doubles). */
static void grad_flat(const rp_grad *g, double *dst, result *r)
{
    static const size_t len[RP_PARAM_COUNT] = {NR * NR, NR * NI, NR, NO * NR, NO};
    size_t off = 0;
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        if (rp_grad_get(g, (rp_param)p, dst + off, len[p]) != RP_OK)
            FAIL(r, "rp_grad_get(%d): %s", p, rp_grad_last_error(g));
        off += len[p];
    }
}

static void run_job(const job *jb)
{
    result *r = jb->out;
    const int k = jb->k;
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = NI;
    c.n_rec = NR;
    c.n_out = NO;
    c.batch = NB;
    c.alpha = 0.8;
    c.form = k % 2 ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    c.act = k == 3 ? RP_ACT_RELU : RP_ACT_TANH;
    c.noise_std = 0.0;
    rp_net *net = NULL, *noisy = NULL, *loaded = NULL;
    if (rp_net_create(&net, &c, NULL, 0) != RP_OK) {
        FAIL(r, "rp_net_create");
        return;
    }
    /* Parameters from the test's generator: W with gain ~1.2, the rest O(1). */
    static const size_t len[RP_PARAM_COUNT] = {NR * NR, NR * NI, NR, NO * NR, NO};
    static const double scale[RP_PARAM_COUNT] = {2.1 / 2.449489742783178 /* sqrt(NR) */, 1.0, 0.2,
                                                 0.5, 0.1};
    double buf[NR * NR], h0[NR];
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        tu_fill(buf, len[p], -scale[p], scale[p], 100 * (uint64_t)k + (uint64_t)p);
        if (rp_net_set_param(net, (rp_param)p, buf, len[p]) != RP_OK)
            FAIL(r, "set_param %d: %s", p, rp_net_last_error(net));
    }
    /* Then W and U from an initializer of the job's kind: gaussian,
       orthogonal (LAPACK QR), sparse rescaled to a spectral radius (LAPACK
       dgeev), Dale; the result is compared too. */
    static const rp_init_kind ikind[JOBS] = {RP_INIT_GAUSSIAN, RP_INIT_ORTHOGONAL, RP_INIT_SPARSE,
                                             RP_INIT_DALE};
    rp_init *ini = NULL;
    if (rp_init_create(&ini, ikind[k], NULL, 0) != RP_OK) {
        FAIL(r, "rp_init_create(%d, NULL, 0)", (int)ikind[k]);
    } else {
        rp_status ist = rp_init_set_gain(ini, 1.2);
        if (ist == RP_OK && ikind[k] == RP_INIT_SPARSE) {
            ist = rp_init_set_sparsity(ini, 0.5);
            if (ist == RP_OK)
                ist = rp_init_set_spectral_radius(ini, 1.1);
        }
        if (ist == RP_OK)
            ist = rp_init_apply(ini, net, RP_PARAM_W, 1000 + (uint64_t)k);
        /* U too where the kind fits a 6 x 2 matrix (no spectral radius, no Dale). */
        if (ist == RP_OK && (ikind[k] == RP_INIT_GAUSSIAN || ikind[k] == RP_INIT_ORTHOGONAL))
            ist = rp_init_apply(ini, net, RP_PARAM_U, 2000 + (uint64_t)k);
        if (ist != RP_OK)
            FAIL(r, "init %d: %s", (int)ikind[k], rp_init_last_error(ini));
        rp_init_free(ini);
    }
    if (rp_net_get_param(net, RP_PARAM_W, r->W, NR * NR) != RP_OK ||
        rp_net_get_param(net, RP_PARAM_U, r->U, NR * NI) != RP_OK)
        FAIL(r, "get_param");
    tu_fill(h0, NR, -0.3, 0.3, 100 * (uint64_t)k + 9);
    if (rp_net_set_initial_state(net, h0, NR) != RP_OK || rp_net_reset(net) != RP_OK)
        FAIL(r, "initial state: %s", rp_net_last_error(net));

    double x[T * NB * NI], tgt[T * NB * NO], mask[T * NB];
    tu_fill(x, T * NB * NI, -1, 1, 100 * (uint64_t)k + 11);
    tu_fill(tgt, T * NB * NO, -0.5, 0.5, 100 * (uint64_t)k + 12);
    tu_fill(mask, T * NB, 0.5, 1, 100 * (uint64_t)k + 13);

    /* Forward, with the state noise of a clone (its generator is per handle). */
    if (rp_net_clone(&noisy, net, NULL, 0) != RP_OK ||
        rp_net_set_noise(noisy, 0.05, 7 + (uint64_t)k) != RP_OK)
        FAIL(r, "clone/noise");
    else if (rp_net_run(noisy, T, x, r->y) != RP_OK ||
             rp_net_get_state(noisy, r->state, NB * NR) != RP_OK)
        FAIL(r, "run: %s", rp_net_last_error(noisy));
    rp_net_free(noisy);

    /* The long noisy run: W from the job's generator, gain ~0.9. */
    {
        rp_net_config bc;
        rp_net_config_init(&bc, sizeof bc);
        bc.n_in = 0;
        bc.n_rec = BIG_N;
        bc.n_out = 1;
        bc.batch = BIG_B;
        bc.act = RP_ACT_TANH;
        bc.noise_std = 0.1;
        bc.seed = 50 + (uint64_t)k;
        rp_net *big = NULL;
        double wbig[BIG_N * BIG_N];
        if (rp_net_create(&big, &bc, NULL, 0) != RP_OK) {
            FAIL(r, "big create");
        } else {
            tu_fill(wbig, BIG_N * BIG_N, -0.9 * 1.7320508075688772 / 5.656854249492381,
                    0.9 * 1.7320508075688772 / 5.656854249492381, 300 + (uint64_t)k);
            if (rp_net_set_param(big, RP_PARAM_W, wbig, BIG_N * BIG_N) != RP_OK ||
                rp_net_run(big, BIG_T, NULL, NULL) != RP_OK ||
                rp_net_get_state(big, r->big_state, BIG_B * BIG_N) != RP_OK)
                FAIL(r, "big run: %s", rp_net_last_error(big));
        }
        rp_net_free(big);
    }

    /* A batch of the perceptual decision task (its stimulus noise is drawn
       from the seed). */
    {
        rp_task *task = NULL;
        size_t tn_in = 0, tn_out = 0, tT = 0;
        if (rp_task_create(&task, RP_TASK_2AF, NULL, NULL, 0) != RP_OK ||
            rp_task_get_dims(task, &tn_in, &tn_out, &tT, NULL) != RP_OK) {
            FAIL(r, "task create");
        } else if (tT * NB * tn_in > TASK_MAX || tT * NB > TASK_MAX) {
            FAIL(r, "2af batch of T %zu, n_in %zu does not fit TASK_MAX", tT, tn_in);
        } else if (rp_task_sample(task, NB, 60 + (uint64_t)k, r->task_x, r->task_tgt,
                                  r->task_mask) != RP_OK) {
            FAIL(r, "task sample: %s", rp_task_last_error(task));
        }
        rp_task_free(task);
    }

    /* Save and load, then run the loaded copy without noise. */
    char path[256];
    snprintf(path, sizeof path, "%s/net%d.rpn", jb->dir, k);
    char msg[256] = "";
    if (rp_net_save(net, path) != RP_OK)
        FAIL(r, "save: %s", rp_net_last_error(net));
    else if (rp_net_load(&loaded, path, msg, sizeof msg) != RP_OK)
        FAIL(r, "load: %s", msg);
    else if (rp_net_run(loaded, T, x, r->y_loaded) != RP_OK)
        FAIL(r, "run loaded: %s", rp_net_last_error(loaded));
    rp_net_free(loaded);

    /* Every rule kind; the net itself is only read. */
    rp_grad *g = NULL;
    if (rp_grad_create(&g, net, NULL, 0) != RP_OK) {
        FAIL(r, "rp_grad_create");
    } else {
        for (int kind = 0; kind < NKINDS; kind++) {
            rp_rule *rule = NULL;
            r->rule_st[kind] = rp_rule_create(&rule, net, (rp_rule_kind)kind, NULL, 0);
            if (r->rule_st[kind] == RP_OK) {
                if (kind == RP_RULE_TBPTT)
                    r->rule_st[kind] = rp_rule_set_truncation(rule, 4);
                if (kind == RP_RULE_RFLO && r->rule_st[kind] == RP_OK)
                    r->rule_st[kind] =
                        rp_rule_set_feedback(rule, RP_FEEDBACK_RANDOM, 5 + (uint64_t)k);
                if (r->rule_st[kind] == RP_OK)
                    r->rule_st[kind] = rp_grad_zero(g);
                if (r->rule_st[kind] == RP_OK)
                    r->rule_st[kind] =
                        rp_rule_trial(rule, net, T, x, tgt, mask, g, &r->rule_loss[kind]);
                if (r->rule_st[kind] == RP_OK)
                    grad_flat(g, r->rule_grad[kind], r);
                else
                    FAIL(r, "rule %d trial: %s", kind, rp_rule_last_error(rule));
            } else {
                FAIL(r, "rule %d create: %s", kind, rp_status_string(r->rule_st[kind]));
            }
            rp_rule_free(rule);
        }

        /* g holds the last rule's (RFLO's) gradient: two Adam steps on a clone. */
        rp_net *trained = NULL;
        rp_optim *opt = NULL;
        if (rp_net_clone(&trained, net, NULL, 0) != RP_OK ||
            rp_optim_create(&opt, trained, RP_OPTIM_ADAM, NULL, 0) != RP_OK ||
            rp_optim_set_lr(opt, 0.01) != RP_OK || rp_optim_step(opt, trained, g) != RP_OK ||
            rp_optim_step(opt, trained, g) != RP_OK) {
            FAIL(r, "optim: %s", opt ? rp_optim_last_error(opt) : "create");
        } else {
            size_t off = 0;
            for (int p = 0; p < RP_PARAM_COUNT; p++) {
                if (rp_net_get_param(trained, (rp_param)p, r->opt_theta + off, len[p]) != RP_OK)
                    FAIL(r, "get_param after optim");
                off += len[p];
            }
        }
        rp_optim_free(opt);
        rp_net_free(trained);

        /* Lyapunov spectrum: QR through LAPACK, re-orthonormalized every 2 steps. */
        rp_lyap_config lc;
        rp_lyap_config_init(&lc, sizeof lc);
        lc.t_ons = 2;
        lc.seed = 3 + (uint64_t)k;
        rp_lyap *ly = NULL;
        r->lyap_st = rp_lyap_create(&ly, net, KLY, &lc, NULL, 0);
        if (r->lyap_st == RP_OK && (r->lyap_st = rp_lyap_run(ly, net, T, NULL)) == RP_OK)
            r->lyap_st = rp_lyap_get_spectrum(ly, r->lyap, KLY);
        if (r->lyap_st != RP_OK)
            FAIL(r, "lyap: %s", ly ? rp_lyap_last_error(ly) : rp_net_last_error(net));
        rp_lyap_free(ly);

        /* A flossing trial (local mode, the default). */
        rp_floss_config fc;
        rp_floss_config_init(&fc, sizeof fc);
        fc.k = 2;
        fc.t_ons = 2;
        fc.seed = 4 + (uint64_t)k;
        rp_floss *fl = NULL;
        r->floss_st = rp_floss_create(&fl, net, &fc, NULL, 0);
        if (r->floss_st == RP_OK && (r->floss_st = rp_grad_zero(g)) == RP_OK) {
            double xs[T * NI]; /* one trajectory */
            memcpy(xs, x, sizeof xs);
            r->floss_st = rp_floss_trial(fl, net, T, xs, g, &r->floss_F, NULL);
            if (r->floss_st == RP_OK)
                grad_flat(g, r->floss_grad, r);
        }
        if (r->floss_st != RP_OK)
            FAIL(r, "floss: %s", fl ? rp_floss_last_error(fl) : rp_net_last_error(net));
        rp_floss_free(fl);
    }
    rp_grad_free(g);
    rp_net_free(net);
}

/* Threads start together at a barrier and run their job REPEAT times, so
   that the jobs overlap in time (one short job could otherwise finish before
   the next thread starts, which would hide shared state).  Every repetition
   must equal the first; the last one is compared with the serial run. */
enum { REPEAT = 6 };
static pthread_barrier_t start_line;
static result scratch[JOBS];

static void *thread_main(void *arg)
{
    job *jb = arg;
    result *first = jb->out;
    job again = *jb;
    again.out = &scratch[jb->k];
    pthread_barrier_wait(&start_line);
    run_job(jb);
    for (int rep = 1; rep < REPEAT && !first->fail[0]; rep++) {
        memset(again.out, 0, sizeof *again.out);
        run_job(&again);
        if (again.out->fail[0])
            FAIL(first, "repetition %d: %.400s", rep, again.out->fail);
        else if (memcmp(again.out, first, sizeof *first) != 0)
            FAIL(first, "repetition %d differs from the first", rep);
    }
    return NULL;
}

/* First index where a and b differ bitwise, or n. */
static size_t first_diff(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof(double)) != 0)
            return i;
    return n;
}

#define SAME(a, b, n, what, k)                                                                   \
    do {                                                                                         \
        size_t i_ = first_diff((a), (b), (n));                                                   \
        ck_assert_msg(i_ == (n), "job %d: %s[%zu] is %.17g threaded, %.17g serial", (k), (what), \
                      i_, (a)[i_ < (n) ? i_ : 0], (b)[i_ < (n) ? i_ : 0]);                       \
    } while (0)

static void compare(const result *t, const result *s, int k)
{
    ck_assert_msg(t->fail[0] == '\0', "job %d threaded: %s", k, t->fail);
    SAME(t->W, s->W, (size_t)(NR * NR), "W", k);
    SAME(t->U, s->U, (size_t)(NR * NI), "U", k);
    SAME(t->y, s->y, (size_t)(T * NB * NO), "y", k);
    SAME(t->state, s->state, (size_t)(NB * NR), "state", k);
    SAME(t->y_loaded, s->y_loaded, (size_t)(T * NB * NO), "y_loaded", k);
    SAME(t->big_state, s->big_state, (size_t)(BIG_B * BIG_N), "big_state", k);
    for (int kind = 0; kind < NKINDS; kind++) {
        ck_assert_msg(t->rule_st[kind] == s->rule_st[kind],
                      "job %d rule %d: %s threaded, %s serial", k, kind,
                      rp_status_string(t->rule_st[kind]), rp_status_string(s->rule_st[kind]));
        SAME(&t->rule_loss[kind], &s->rule_loss[kind], (size_t)1, "rule loss", k);
        SAME(t->rule_grad[kind], s->rule_grad[kind], (size_t)NP, "rule grad", k);
    }
    SAME(t->opt_theta, s->opt_theta, (size_t)NP, "theta after Adam", k);
    SAME(t->task_x, s->task_x, (size_t)TASK_MAX, "task x", k);
    SAME(t->task_tgt, s->task_tgt, (size_t)TASK_MAX, "task target", k);
    SAME(t->task_mask, s->task_mask, (size_t)TASK_MAX, "task mask", k);
    SAME(t->lyap, s->lyap, (size_t)KLY, "lyapunov", k);
    SAME(&t->floss_F, &s->floss_F, (size_t)1, "floss F", k);
    SAME(t->floss_grad, s->floss_grad, (size_t)NP, "floss grad", k);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
    rmdir(dir);
}

START_TEST(threads_bit_identical_to_serial)
{
    int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    char dir_s[64] = "/tmp/rp_test_threads_XXXXXX", dir_t[64] = "/tmp/rp_test_threads_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir_s));
    ck_assert_ptr_nonnull(mkdtemp(dir_t));

    static result serial[JOBS], par[JOBS];
    memset(serial, 0, sizeof serial);
    job jobs[JOBS];
    for (int k = 0; k < JOBS; k++) {
        jobs[k] = (job){k, dir_s, &serial[k]};
        run_job(&jobs[k]);
        ck_assert_msg(serial[k].fail[0] == '\0', "job %d serial: %s", k, serial[k].fail);
    }
    /* The comparison is not vacuous: outputs move, every rule computes. */
    int rules_ok = 0;
    for (int k = 0; k < JOBS; k++) {
        double m = 0;
        for (size_t i = 0; i < T * NB * NO; i++)
            m = fmax(m, fabs(serial[k].y[i]));
        ck_assert_msg(m > 1e-3, "job %d: outputs are all ~0", k);
        for (int kind = 0; kind < NKINDS; kind++)
            rules_ok += serial[k].rule_st[kind] == RP_OK;
    }
    ck_assert_int_eq(rules_ok, JOBS * NKINDS);

    /* Round 0: thread i runs job i; round 1: thread i runs job 3 - i, so a
       job's thread and its neighbours change. */
    for (int round = 0; round < 2; round++) {
        memset(par, 0, sizeof par);
        pthread_t th[JOBS];
        ck_assert_int_eq(pthread_barrier_init(&start_line, NULL, JOBS), 0);
        for (int i = 0; i < JOBS; i++) {
            int k = round == 0 ? i : JOBS - 1 - i;
            jobs[k] = (job){k, dir_t, &par[k]};
            ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, &jobs[k]), 0);
        }
        for (int i = 0; i < JOBS; i++)
            ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        pthread_barrier_destroy(&start_line);
        for (int k = 0; k < JOBS; k++)
            compare(&par[k], &serial[k], k);
    }
    remove_dir(dir_s);
    remove_dir(dir_t);
    openblas_set_num_threads(blas_threads);
}
END_TEST

/* ---- one const net, four handles, four threads ----------------------------

   Handles that only read a network (rules, Lyapunov and flossing) share one
   `const rp_net *` across threads: each owns its scratch (the padding of
   batch_invariant products) and its message, so the net is never written.
   Four threads start together on one net: a BPTT trial, an e-prop trial, a
   Lyapunov run with rp_lyap_max_direct, and a flossing trial, each repeated;
   every repetition must equal the same calls run one after the other.  Then
   the same four fail at once on bad arguments: each handle's message must be
   its own, and the net's message must be untouched by all of it.  Forms x
   batch_invariant off/on (on: every product over 1 or SN_B rows goes through
   the padding scratch). */
enum { SN_I = 3, SN_R = 16, SN_O = 2, SN_B = 3, SN_T = 20, SN_K = 3, SN_REP = 5, SN_JOBS = 4 };
#define SN_NP (SN_R * SN_R + SN_R * SN_I + SN_R + SN_O * SN_R + SN_O)

typedef struct share_out {
    rp_status st[SN_REP];
    double val[SN_REP];      /* loss, lambda_max (direct) or F */
    double v[SN_REP][SN_NP]; /* gradient, or the spectrum in the first SN_K */
    rp_status bad_st[3];     /* the failing calls' statuses */
    char bad_msg[2][256];    /* and the handle messages they leave */
    char fail[256];
} share_out;

typedef struct share_job {
    int who; /* 0 BPTT, 1 e-prop, 2 Lyapunov, 3 flossing */
    int bad; /* make the failing calls instead */
    const rp_net *net;
    const double *x, *tgt;
    share_out *out;
    pthread_barrier_t *bar; /* NULL: serial */
} share_job;

static void sn_grad(const rp_grad *g, double *dst, share_out *o)
{
    static const size_t len[RP_PARAM_COUNT] = {SN_R * SN_R, SN_R * SN_I, SN_R, SN_O * SN_R, SN_O};
    for (int p = 0, off = 0; p < RP_PARAM_COUNT; off += (int)len[p], p++)
        if (rp_grad_get(g, (rp_param)p, dst + off, len[p]) != RP_OK)
            FAIL(o, "rp_grad_get: %s", rp_grad_last_error(g));
}

static void *share_main(void *arg)
{
    const share_job *j = arg;
    share_out *o = j->out;
    const rp_net *net = j->net;
    double xb[SN_T * SN_B * SN_I]; /* x with one NaN, at a place of the job's own */
    memcpy(xb, j->x, sizeof xb);
    xb[(3 + (size_t)j->who) * SN_B * SN_I + 1] = NAN;
    rp_grad *g = NULL;
    rp_rule *rule = NULL;
    rp_lyap *ly = NULL;
    rp_floss *fl = NULL;
    rp_lyap_config lc;
    rp_lyap_config_init(&lc, sizeof lc);
    lc.t_ons = 2;
    rp_floss_config fc;
    rp_floss_config_init(&fc, sizeof fc);
    fc.k = 2;
    fc.t_ons = 2;
    fc.transient = 2;
    if (j->bar)
        pthread_barrier_wait(j->bar);
    /* the constructors read the shared net too */
    if (rp_grad_create(&g, net, NULL, 0) != RP_OK ||
        (j->who < 2 &&
         rp_rule_create(&rule, net, j->who ? RP_RULE_EPROP : RP_RULE_BPTT, NULL, 0) != RP_OK) ||
        (j->who == 2 && rp_lyap_create(&ly, net, SN_K, &lc, NULL, 0) != RP_OK) ||
        (j->who == 3 && rp_floss_create(&fl, net, &fc, NULL, 0) != RP_OK)) {
        FAIL(o, "job %d: create", j->who);
        goto done;
    }
    for (int rep = 0; rep < SN_REP; rep++) {
        if (rp_grad_zero(g) != RP_OK) {
            FAIL(o, "job %d: rp_grad_zero", j->who);
            goto done;
        }
        if (j->who < 2) {
            o->st[rep] =
                rp_rule_trial(rule, net, SN_T, j->bad ? xb : j->x, j->tgt, NULL, g, &o->val[rep]);
            if (j->bad) {
                o->bad_st[0] = o->st[rep];
                snprintf(o->bad_msg[0], sizeof o->bad_msg[0], "%s", rp_rule_last_error(rule));
                o->st[rep] = rp_rule_trial(rule, net, 0, j->x, j->tgt, NULL, g, NULL);
                o->bad_st[1] = o->st[rep];
                snprintf(o->bad_msg[1], sizeof o->bad_msg[1], "%s", rp_rule_last_error(rule));
            } else if (o->st[rep] == RP_OK) {
                sn_grad(g, o->v[rep], o);
            } else {
                FAIL(o, "rule %d: %s", j->who, rp_rule_last_error(rule));
            }
        } else if (j->who == 2) {
            if (j->bad) {
                /* one trajectory is the first SN_T*SN_I inputs of xb */
                xb[2 * SN_I + 1] = NAN;
                o->bad_st[0] = rp_lyap_run(ly, net, SN_T, xb);
                snprintf(o->bad_msg[0], sizeof o->bad_msg[0], "%s", rp_lyap_last_error(ly));
                rp_lyap *none = NULL;
                o->bad_st[1] = rp_lyap_create(&none, net, SN_R + 1, &lc, NULL, 0);
                o->bad_st[2] =
                    rp_lyap_max_direct(net, SN_T, NULL, 0, -1.0, 1, &o->val[rep], NULL, 0);
                rp_lyap_free(none);
                continue;
            }
            o->st[rep] = rp_lyap_reset(ly);
            if (o->st[rep] == RP_OK)
                o->st[rep] = rp_lyap_run(ly, net, SN_T, j->x);
            if (o->st[rep] == RP_OK)
                o->st[rep] = rp_lyap_get_spectrum(ly, o->v[rep], SN_K);
            if (o->st[rep] == RP_OK)
                o->st[rep] = rp_lyap_max_direct(net, SN_T, j->x, 2, 1e-7, 9, &o->val[rep], NULL, 0);
            if (o->st[rep] != RP_OK)
                FAIL(o, "lyap: %s", rp_lyap_last_error(ly));
        } else {
            if (j->bad) {
                o->bad_st[0] = rp_floss_trial(fl, net, SN_T, xb, g, NULL, NULL);
                snprintf(o->bad_msg[0], sizeof o->bad_msg[0], "%s", rp_floss_last_error(fl));
                o->bad_st[1] = rp_floss_trial(fl, net, 2, j->x, g, NULL, NULL);
                snprintf(o->bad_msg[1], sizeof o->bad_msg[1], "%s", rp_floss_last_error(fl));
                continue;
            }
            o->st[rep] = rp_floss_trial(fl, net, SN_T, j->x, g, &o->val[rep], NULL);
            if (o->st[rep] == RP_OK)
                sn_grad(g, o->v[rep], o);
            else
                FAIL(o, "floss: %s", rp_floss_last_error(fl));
        }
    }
done:
    rp_rule_free(rule);
    rp_lyap_free(ly);
    rp_floss_free(fl);
    rp_grad_free(g);
    return NULL;
}

static void share_run(share_job *jobs, share_out *outs, int threaded)
{
    memset(outs, 0, SN_JOBS * sizeof *outs);
    pthread_barrier_t bar;
    pthread_t th[SN_JOBS];
    if (threaded)
        ck_assert_int_eq(pthread_barrier_init(&bar, NULL, SN_JOBS), 0);
    for (int i = 0; i < SN_JOBS; i++) {
        jobs[i].out = &outs[i];
        jobs[i].bar = threaded ? &bar : NULL;
        if (threaded)
            ck_assert_int_eq(pthread_create(&th[i], NULL, share_main, &jobs[i]), 0);
        else
            share_main(&jobs[i]);
    }
    if (threaded) {
        for (int i = 0; i < SN_JOBS; i++)
            ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        pthread_barrier_destroy(&bar);
    }
    for (int i = 0; i < SN_JOBS; i++)
        ck_assert_msg(outs[i].fail[0] == '\0', "job %d (%s): %s", i,
                      threaded ? "threads" : "serial", outs[i].fail);
}

START_TEST(threads_share_one_const_net)
{
    const int binv = _i / 2;
    const rp_form form = _i % 2 ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = SN_I;
    c.n_rec = SN_R;
    c.n_out = SN_O;
    c.batch = SN_B; /* not a multiple of the 8-row blocks: the padding is used */
    c.alpha = 0.7;
    c.form = form;
    c.batch_invariant = binv;
    rp_net *net = NULL;
    RP_CK(rp_net_create(&net, &c, NULL, 0), net, rp_net_last_error);
    static const size_t len[RP_PARAM_COUNT] = {SN_R * SN_R, SN_R * SN_I, SN_R, SN_O * SN_R, SN_O};
    static const double scale[RP_PARAM_COUNT] = {0.45, 1.0, 0.2, 0.5, 0.1}; /* gain ~1.1 */
    double buf[SN_R * SN_R], h0[SN_R];
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        tu_fill(buf, len[p], -scale[p], scale[p], 700 + (uint64_t)p);
        RP_CK(rp_net_set_param(net, (rp_param)p, buf, len[p]), net, rp_net_last_error);
    }
    tu_fill(h0, SN_R, -0.5, 0.5, 709);
    RP_CK(rp_net_set_initial_state(net, h0, SN_R), net, rp_net_last_error);
    RP_CK(rp_net_reset(net), net, rp_net_last_error);
    static double x[SN_T * SN_B * SN_I], tgt[SN_T * SN_B * SN_O];
    tu_fill(x, SN_T * SN_B * SN_I, -1, 1, 711);
    tu_fill(tgt, SN_T * SN_B * SN_O, -0.5, 0.5, 712);
    char net_msg[256];
    snprintf(net_msg, sizeof net_msg, "%s", rp_net_last_error(net));

    static share_out serial[SN_JOBS], par[SN_JOBS];
    share_job jobs[SN_JOBS];
    for (int bad = 0; bad < 2; bad++) {
        for (int i = 0; i < SN_JOBS; i++)
            jobs[i] = (share_job){i, bad, net, x, tgt, NULL, NULL};
        share_run(jobs, serial, 0);
        for (int round = 0; round < 3; round++) {
            share_run(jobs, par, 1);
            for (int i = 0; i < SN_JOBS; i++) {
                for (int rep = 0; rep < SN_REP; rep++) {
                    ck_assert_msg(par[i].st[rep] == serial[i].st[rep],
                                  "job %d rep %d: %s threaded, %s serial", i, rep,
                                  rp_status_string(par[i].st[rep]),
                                  rp_status_string(serial[i].st[rep]));
                    ck_assert_msg(memcmp(&par[i].val[rep], &serial[i].val[rep], sizeof(double)) ==
                                      0,
                                  "job %d rep %d: value %.17g threaded, %.17g serial", i, rep,
                                  par[i].val[rep], serial[i].val[rep]);
                    size_t d = first_diff(par[i].v[rep], serial[i].v[rep], SN_NP);
                    ck_assert_msg(d == SN_NP,
                                  "job %d rep %d: [%zu] is %.17g threaded, %.17g serial", i, rep, d,
                                  par[i].v[rep][d % SN_NP], serial[i].v[rep][d % SN_NP]);
                    /* repetitions on one handle agree, and are not vacuous */
                    ck_assert(memcmp(serial[i].v[rep], serial[i].v[0], sizeof serial[i].v[0]) == 0);
                }
                if (!bad) {
                    double m = 0;
                    for (size_t k = 0; k < SN_NP; k++)
                        m = fmax(m, fabs(serial[i].v[0][k]));
                    ck_assert_msg(m > 1e-6 && isfinite(serial[i].val[0]), "job %d computes nothing",
                                  i);
                }
                ck_assert_mem_eq(par[i].bad_st, serial[i].bad_st, sizeof par[i].bad_st);
                ck_assert_str_eq(par[i].bad_msg[0], serial[i].bad_msg[0]);
                ck_assert_str_eq(par[i].bad_msg[1], serial[i].bad_msg[1]);
            }
        }
        if (bad) {
            /* each handle's own message, naming its own bad input */
            static const rp_status want[SN_JOBS][3] = {
                {RP_ERR_NONFINITE, RP_ERR_INVALID_ARG, RP_OK},
                {RP_ERR_NONFINITE, RP_ERR_INVALID_ARG, RP_OK},
                {RP_ERR_NONFINITE, RP_ERR_INVALID_ARG, RP_ERR_INVALID_ARG},
                {RP_ERR_NONFINITE, RP_ERR_INVALID_ARG, RP_OK}};
            ck_assert_mem_eq(serial[0].bad_st, want[0], sizeof want[0]);
            ck_assert_mem_eq(serial[1].bad_st, want[1], sizeof want[1]);
            ck_assert_mem_eq(serial[2].bad_st, want[2], sizeof want[2]);
            ck_assert_mem_eq(serial[3].bad_st, want[3], sizeof want[3]);
            ck_assert_str_eq(serial[0].bad_msg[0], "x at step 3, trial 0, input 1 is nan");
            ck_assert_str_eq(serial[1].bad_msg[0], "x at step 4, trial 0, input 1 is nan");
            ck_assert_str_eq(serial[0].bad_msg[1], "T is 0, expected T >= 1");
            ck_assert_str_eq(serial[1].bad_msg[1], "T is 0, expected T >= 1");
            ck_assert_str_eq(serial[2].bad_msg[0], "x at step 2, input 1 is nan");
            ck_assert_msg(strstr(serial[3].bad_msg[0], "nan") != NULL, "floss: %s",
                          serial[3].bad_msg[0]);
            ck_assert_msg(strstr(serial[3].bad_msg[1], "T is 2") != NULL, "floss: %s",
                          serial[3].bad_msg[1]);
        }
    }
    /* no call above wrote to the net: not even a message */
    ck_assert_str_eq(rp_net_last_error(net), net_msg);
    rp_net_free(net);
    openblas_set_num_threads(blas_threads);
}
END_TEST

Suite *suite_threads(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("handles");
    tcase_add_test(tc, threads_bit_identical_to_serial);
    tcase_add_loop_test(tc, threads_share_one_const_net, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}
