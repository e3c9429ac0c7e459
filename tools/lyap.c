/* rnnplast lyap: the Lyapunov spectrum of a saved or fresh network.  Public API only. */
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- trial-based finite-time exponents (tool.h) ------------------------- */

void task_delay_window(rp_task_kind kind, const rp_task_config *t, size_t *d0, size_t *d1)
{
    *d0 = *d1 = 0;
    if (kind == RP_TASK_2AF || kind == RP_TASK_DMS || kind == RP_TASK_CXT) {
        *d0 = t->fixation + t->stimulus; /* the periods' order: rnnplast.h, rp_task_kind */
        *d1 = *d0 + t->delay;
    }
}

int trial_io_alloc(const rp_task *task, trial_io *io, char *msg, size_t msglen)
{
    size_t n_out;
    rp_loss loss;
    memset(io, 0, sizeof *io);
    if (rp_task_get_dims(task, &io->n_in, &n_out, &io->T, &loss) != RP_OK) {
        snprintf(msg, msglen, "rp_task_get_dims: %s", rp_task_last_error(task));
        return 1;
    }
    size_t ny = loss == RP_LOSS_CE ? 1 : n_out;
    size_t lx, lt;
    if (mul_size(io->T, io->n_in, &lx) || add_size(lx, 1, &lx) || mul_size(io->T, ny, &lt))
        lx = lt = SIZE_MAX; /* calloc refuses it: reported as out of memory */
    io->x = calloc(lx, sizeof(double));
    io->tg = calloc(lt, sizeof(double));
    io->m = calloc(io->T, sizeof(double));
    if (!io->x || !io->tg || !io->m) {
        trial_io_free(io);
        snprintf(msg, msglen, "out of memory");
        return 1;
    }
    return 0;
}

void trial_io_free(trial_io *io)
{
    free(io->x);
    free(io->tg);
    free(io->m);
    io->x = io->tg = io->m = NULL;
}

static int measure_ftle_on(const rp_net *net, const rp_task *task, size_t trials, uint64_t seed,
                           size_t k, size_t d0, size_t d1, ftle_stats *out, double *per_trial,
                           char *msg, size_t msglen);

/* A single-precision net is measured in float (rp_lyap runs on it). */
int measure_ftle(const rp_net *net, const rp_task *task, size_t trials, uint64_t seed, size_t k,
                 size_t d0, size_t d1, ftle_stats *out, double *per_trial, char *msg, size_t msglen)
{
    return measure_ftle_on(net, task, trials, seed, k, d0, d1, out, per_trial, msg, msglen);
}

static int measure_ftle_on(const rp_net *net, const rp_task *task, size_t trials, uint64_t seed,
                           size_t k, size_t d0, size_t d1, ftle_stats *out, double *per_trial,
                           char *msg, size_t msglen)
{
    out->mean = out->sd = out->delay = NAN;
    trial_io io;
    if (trial_io_alloc(task, &io, msg, msglen))
        return 1;
    const size_t n_in = io.n_in, T = io.T;
    double *x = io.x, *tg = io.tg, *m = io.m;
    double *spec = calloc(k, sizeof(double));
    double *lam = calloc(trials, sizeof(double));
    rp_lyap *ly = NULL;
    int rc = 1;
    if (!spec || !lam) {
        snprintf(msg, msglen, "out of memory");
        goto done;
    }
    rp_lyap_config lc;
    rp_lyap_config_init(&lc, sizeof lc);
    /* A short transient inside the trial, as flossing's window (run.c):
       the basis turns toward the growing directions before it is counted. */
    lc.transient = T / 4;
    lc.t_ons = 1; /* a local exponent per step; the basis Q0: rp_lyap's default seed, the
                     same for every trial, so a trial's numbers depend on its seed alone */
    char cm[200];
    rp_status st = rp_lyap_create(&ly, net, k, &lc, cm, sizeof cm);
    if (st != RP_OK) {
        snprintf(msg, msglen, "rp_lyap_create: %s: %s", rp_status_string(st), cm);
        goto done;
    }
    double dsum = 0.0;
    size_t dn = 0;
    for (size_t i = 0; i < trials; i++) {
        st = rp_task_sample(task, 1, seed + i, x, tg, m);
        if (st == RP_OK)
            st = rp_lyap_reset(ly); /* the trial's own initial state and the basis Q0 */
        for (size_t t = 0; st == RP_OK && t < T; t++) {
            st = rp_lyap_run(ly, net, 1, n_in ? x + t * n_in : NULL);
            if (st == RP_OK && t >= d0 && t < d1) {
                st = rp_lyap_get_local(ly, spec, k);
                dsum += spec[0];
                dn++;
            }
        }
        if (st == RP_OK)
            st = rp_lyap_get_spectrum(ly, spec, k);
        if (st != RP_OK) {
            snprintf(msg, msglen, "trial %zu: %s: %s", i + 1, rp_status_string(st),
                     rp_lyap_last_error(ly));
            goto done;
        }
        lam[i] = spec[0];
        if (per_trial)
            memcpy(per_trial + i * k, spec, k * sizeof(double));
    }
    double s = 0.0, ss = 0.0;
    for (size_t i = 0; i < trials; i++)
        s += lam[i];
    out->mean = s / (double)trials;
    for (size_t i = 0; i < trials; i++)
        ss += (lam[i] - out->mean) * (lam[i] - out->mean);
    out->sd = trials > 1 ? sqrt(ss / (double)(trials - 1)) : 0.0;
    out->delay = dn ? dsum / (double)dn : NAN;
    rc = 0;
done:
    rp_lyap_free(ly);
    trial_io_free(&io);
    free(spec);
    free(lam);
    return rc;
}

/* ---- lyap -------------------------------------------------------------- */

/* Steps of one lyap run: 2^40 steps take days; far from size_t overflow. */
#define LYAP_MAX_STEPS (1ULL << 40)

static const char lyap_usage[] =
    "usage: rnnplast lyap [--model FILE | network options] [options]\n"
    "Lyapunov spectrum (first k exponents, per step) of a saved network, or of a\n"
    "freshly initialized one (W ~ N(0, g^2/N)), driven by a task's inputs or autonomous.\n"
    "With --ftle-trials N: finite-time exponents of N task trials (the task's default\n"
    "periods), each from the net's initial state, the first T/4 steps a transient (the\n"
    "measurement of train's and sweep's ftle columns): each trial's k exponents, the\n"
    "mean and s.d. of lambda_1 over trials and the delay period's local exponent, per\n"
    "step and per tau (per step / (1 - alpha)); seeds 777000, 777001, ... as in train\n"
    "unless --seed is given.";

/* rnnplast lyap --ftle-trials: measure_ftle's numbers, per step and per tau. */
static int print_ftle(const rp_net *net, const rp_task *task, const char *task_s, rp_task_kind tk,
                      const rp_net_config *nc, size_t trials, uint64_t seed, size_t k)
{
    rp_task_config tc;
    size_t T, d0, d1;
    if (rp_task_get_config(task, &tc, sizeof tc) != RP_OK ||
        rp_task_get_dims(task, NULL, NULL, &T, NULL) != RP_OK) {
        fprintf(stderr, "rnnplast lyap: %s\n", rp_task_last_error(task));
        return 1;
    }
    task_delay_window(tk, &tc, &d0, &d1);
    size_t n;
    double *per = mul_size(trials, k, &n) ? NULL : calloc(n, sizeof(double));
    if (!per) {
        fprintf(stderr, "rnnplast lyap: out of memory\n");
        return 1;
    }
    ftle_stats fs;
    char msg[300];
    if (measure_ftle(net, task, trials, seed, k, d0, d1, &fs, per, msg, sizeof msg)) {
        fprintf(stderr, "rnnplast lyap: %s\n", msg);
        free(per);
        return 1;
    }
    const double dtau = 1.0 - nc->alpha; /* dt/tau (MODEL.md §1): per tau = per step / dtau */
    printf("# finite-time exponents of %zu %s trials (seeds %llu..), %zu steps each from the "
           "initial state, %zu transient, k %zu; per step, dt/tau = 1 - alpha = %.6g\n",
           trials, task_s, (unsigned long long)seed, T, T / 4, k, dtau);
    for (size_t i = 0; i < trials; i++) {
        printf("trial %zu", i + 1);
        for (size_t j = 0; j < k; j++)
            printf(" %.17g", per[i * k + j]);
        printf("\n");
    }
    printf("lambda_1 mean %.17g sd %.17g per_tau %.17g sd_per_tau %.17g\n", fs.mean, fs.sd,
           fs.mean / dtau, fs.sd / dtau);
    if (d1 > d0)
        printf("delay steps %zu..%zu local %.17g per_tau %.17g times_delay %.17g\n", d0, d1 - 1,
               fs.delay, fs.delay / dtau, fs.delay * (double)(d1 - d0));
    else
        printf("delay none\n");
    free(per);
    return 0;
}

int cmd_lyap(int argc, char **argv)
{
    const char *model = NULL, *task_s = NULL, *form_s = NULL, *act_s = NULL;
    size_t N = 32, k = 1, steps = 1000, transient = 100, t_ons = 1, ftle_trials = 0;
    double gain = 1.0, alpha = 0.9;
    uint64_t seed = 1;
    int autonomous = 0;
    const double INF = INFINITY;
    opt opts[] = {
        O_STR("model", &model, "saved network (rp_net_load); else a fresh one"),
        O_SIZE("N", &N, 1, MAX_UNITS, "units of a fresh network (default 32)"),
        O_NUM("gain", &gain, 0, 0, INF, 0, "gain g of a fresh network (default 1)"),
        O_NUM("alpha", &alpha, 0, 0, 1, 1, "leak of a fresh network (default 0.9)"),
        O_STR("form", &form_s, "voltage|rate (default voltage)"),
        O_STR("act", &act_s, "relu|tanh|linear (default relu)"),
        O_U64("seed", &seed, 0, UINT64_MAX, "seed of the weights, inputs and basis (default 1)"),
        O_STR("task", &task_s,
              "drive with this task's inputs (default: autonomous for a fresh net)"),
        O_FLAG("autonomous", &autonomous, "no input (x = 0)"),
        O_SIZE("k", &k, 1, MAX_UNITS, "exponents, at most N (default 1)"),
        O_SIZE("steps", &steps, 1, LYAP_MAX_STEPS, "steps counted (default 1000)"),
        O_SIZE("transient", &transient, 0, LYAP_MAX_STEPS, "steps discarded first (default 100)"),
        O_SIZE("t-ons", &t_ons, 1, MAX_PERIOD,
               "steps between QR re-orthonormalizations (default 1)"),
        O_SIZE("ftle-trials", &ftle_trials, 1, 100000,
               "trial-based finite-time exponents of this many trials (needs --task)"),
        O_END,
    };
    int r = opt_parse("lyap", lyap_usage, opts, argc, argv, 2);
    if (r)
        return r < 0 ? 0 : r;
    rp_task_kind tk = RP_TASK_2AF;
    if (task_s && parse_task(task_s, &tk))
        return usage_error("lyap", "--task: unknown task '%s'", task_s);
    if (task_s && autonomous)
        return usage_error("lyap", "give --task or --autonomous, not both");
    if (ftle_trials && !task_s)
        return usage_error("lyap", "--ftle-trials needs --task");
    if (ftle_trials && (opt_find(opts, "steps")->set || opt_find(opts, "transient")->set ||
                        opt_find(opts, "t-ons")->set))
        return usage_error("lyap", "--ftle-trials excludes --steps, --transient and --t-ons "
                                   "(a trial's steps, T/4 and 1)");
    if (model && (opt_find(opts, "N")->set || opt_find(opts, "gain")->set ||
                  opt_find(opts, "alpha")->set || form_s || act_s))
        return usage_error("lyap", "--model excludes --N, --gain, --alpha, --form, --act");
    size_t total;
    if (add_size(transient, steps, &total) != 0)
        return usage_error("lyap", "--transient %zu + --steps %zu overflows", transient, steps);
    rp_net_config nc;
    rp_net_config_init(&nc, sizeof nc);
    if (form_s && parse_form(form_s, &nc.form))
        return usage_error("lyap", "--form: expected voltage or rate, got '%s'", form_s);
    if (act_s && parse_act(act_s, &nc.act))
        return usage_error("lyap", "--act: expected relu, tanh or linear, got '%s'", act_s);

    rp_net *net = NULL;
    rp_task *task = NULL;
    rp_lyap *ly = NULL;
    double *x = NULL, *tg = NULL, *m = NULL, *spec = NULL;
    int ret = 1;
    rp_status st;
    if (model) {
        char msg[256] = "";
        st = rp_net_load(&net, model, msg, sizeof msg);
        if (st != RP_OK) {
            fprintf(stderr, "rnnplast lyap: cannot load %s: %s: %s\n", model, rp_status_string(st),
                    msg);
            return 1;
        }
    }
    size_t n_in = 1, n_out = 1, T = 1;
    if (task_s) {
        rp_loss loss;
        st = rp_task_create(&task, tk, NULL, NULL, 0);
        if (st != RP_OK)
            goto fail;
        if ((st = rp_task_get_dims(task, &n_in, &n_out, &T, &loss)) != RP_OK)
            goto fail;
    }
    if (!net) {
        nc.n_in = n_in;
        nc.n_out = n_out;
        nc.n_rec = N;
        nc.alpha = alpha;
        nc.seed = seed;
        rp_init *init = NULL;
        st = rp_net_create(&net, &nc, NULL, 0);
        if (st == RP_OK)
            st = rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0);
        if (st == RP_OK)
            st = rp_init_set_gain(init, gain);
        if (st == RP_OK)
            st = rp_init_apply(init, net, RP_PARAM_W, seed);
        if (st == RP_OK && task) {
            st = rp_init_set_gain(init, 1.0);
            if (st == RP_OK)
                st = rp_init_apply(init, net, RP_PARAM_U, seed * 0x9E3779B97F4A7C15ULL + 11);
        }
        rp_init_free(init);
        if (st != RP_OK) {
            fprintf(stderr, "rnnplast lyap: network: %s: %s\n", rp_status_string(st),
                    rp_net_last_error(net));
            goto out;
        }
    }
    rp_net_config got;
    if ((st = rp_net_get_config(net, &got, sizeof got)) != RP_OK) {
        fprintf(stderr, "rnnplast lyap: network: %s: %s\n", rp_status_string(st),
                rp_net_last_error(net));
        goto out;
    }
    if (k > got.n_rec) {
        ret = usage_error("lyap", "--k: expected 1..N = %zu, got %zu", got.n_rec, k);
        goto out;
    }
    if (task && (got.n_in != n_in)) {
        fprintf(stderr, "rnnplast lyap: the network has %zu inputs, task %s gives %zu\n", got.n_in,
                task_s, n_in);
        goto out;
    }
    if (ftle_trials) {
        ret = print_ftle(net, task, task_s, tk, &got, ftle_trials,
                         opt_find(opts, "seed")->set ? seed : SEED_FTLE, k);
        goto out;
    }
    rp_lyap_config lc;
    rp_lyap_config_init(&lc, sizeof lc);
    lc.transient = transient;
    lc.t_ons = t_ons;
    lc.seed = seed;
    st = rp_lyap_create(&ly, net, k, &lc, NULL, 0);
    if (st != RP_OK) {
        fprintf(stderr, "rnnplast lyap: rp_lyap_create: %s\n", rp_status_string(st));
        goto out;
    }
    spec = calloc(k, sizeof(double));
    if (task) {
        size_t tin, tout;
        st = RP_ERR_NOMEM; /* the trial buffers' sizes overflow, or calloc failed */
        if (mul_size(T, n_in, &tin) || mul_size(T, n_out, &tout) || tin == SIZE_MAX)
            goto fail;
        x = calloc(tin + 1, sizeof(double));
        tg = calloc(tout, sizeof(double));
        m = calloc(T, sizeof(double));
        if (!x || !tg || !m || !spec)
            goto fail;
        for (size_t done = 0, i = 0; done < total; i++) {
            size_t len = total - done < T ? total - done : T;
            st = rp_task_sample(task, 1, seed * 1000003ULL + i, x, tg, m);
            if (st == RP_OK)
                st = rp_lyap_run(ly, net, len, x);
            if (st != RP_OK)
                goto fail;
            done += len;
        }
    } else {
        st = RP_ERR_NOMEM;
        if (!spec)
            goto fail;
        if (got.n_in > 0 && !autonomous && model)
            fprintf(stderr, "rnnplast lyap: note: no --task given, running autonomously (x = 0)\n");
        st = rp_lyap_run(ly, net, total, NULL);
        if (st != RP_OK)
            goto fail;
    }
    st = rp_lyap_get_spectrum(ly, spec, k);
    if (st != RP_OK)
        goto fail;
    printf("# Lyapunov exponents per step (%zu steps after %zu transient, %s)\n", steps, transient,
           task ? task_s : "autonomous");
    for (size_t i = 0; i < k; i++)
        printf("%zu %.8g\n", i + 1, spec[i]);
    ret = 0;
    goto out;
fail : {
    const char *d = ly ? rp_lyap_last_error(ly) : task ? rp_task_last_error(task) : "";
    fprintf(stderr, "rnnplast lyap: %s%s%s\n", rp_status_string(st), *d ? ": " : "", d);
}
out:
    rp_lyap_free(ly);
    rp_task_free(task);
    rp_net_free(net);
    free(x);
    free(tg);
    free(m);
    free(spec);
    return ret;
}
