/* rnnplast: train, measure and sweep recurrent networks with librnnplast.
   Subcommands: train, lyap, sweep, plot.  Public API only. */
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(progress *p, const char *label)
{
    p->label = label;
    p->tty = isatty(STDERR_FILENO);
    p->t0 = p->last = now_seconds();
}

/* A bar redrawn in place on a terminal; otherwise a plain line at most every
   10 s (logs stay readable). */
void progress_update(void *pv, size_t done, size_t total)
{
    progress *p = pv;
    double t = now_seconds();
    double el = t - p->t0;
    double eta = done ? el * (double)(total - done) / (double)done : 0.0;
    if (p->tty) {
        if (t - p->last < 0.1 && done < total)
            return;
        int w = 30, fill = total ? (int)((double)w * (double)done / (double)total) : w;
        char bar[32];
        for (int i = 0; i < w; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[w] = 0;
        fprintf(stderr, "\r%s [%s] %zu/%zu  %.0fs elapsed, eta %.0fs ", p->label, bar, done, total,
                el, eta);
    } else {
        if (t - p->last < 10.0 && done < total)
            return;
        fprintf(stderr, "%s: %zu/%zu done, %.0fs elapsed, eta %.0fs\n", p->label, done, total, el,
                eta);
    }
    fflush(stderr);
    p->last = t;
}

void progress_done(progress *p)
{
    if (p->tty)
        fprintf(stderr, "\n");
}

/* ---- train ------------------------------------------------------------- */

static const char train_usage[] =
    "usage: rnnplast train [options]\n"
    "Train one network on a task and write its learning curve (CSV: iter, train_loss,\n"
    "test_loss, test_acc, floss_F), lambda_max before and after training, and the model.\n"
    "With --checkpoint, SIGINT/SIGTERM pause the run after the current iteration (exit\n"
    "130/143) with the checkpoint written; the same command plus --resume continues it,\n"
    "ending bit-identical to a run never stopped (model and learning curve).  Only\n"
    "--iters may differ between the two commands.\n"
    "Outputs (--curve, --model, --checkpoint): a path that is a directory, FIFO, socket\n"
    "or device is refused (exit 2), as are two outputs naming one file (or --curve or\n"
    "--model naming the --resume file); a symlink is written through to its target.\n"
    "Numeric flags take plain decimal values within the range shown (exit 2 otherwise).";

/* SIGINT/SIGTERM while checkpointing: finish the iteration, save, exit. */
static volatile sig_atomic_t train_signal = 0;

static void on_train_signal(int sig) { train_signal = sig; }

int cmd_train(int argc, char **argv)
{
    run_cfg rc;
    run_cfg_default(&rc);
    run_opts ro;
    memset(&ro, 0, sizeof ro);
    const char *curve_path = NULL, *model_path = NULL;
    int quiet = 0;
    run_ckpt ck = {NULL, 100, NULL, 0, &train_signal};
    opt opts[64];
    size_t n = 0;
    opts[n++] = O_STR("curve", &curve_path, "learning-curve CSV to write (default: none)");
    opts[n++] = O_STR("model", &model_path, "trained model to write (rp_net_save)");
    opts[n++] = O_FLAG("quiet", &quiet, "no progress bar");
    opts[n++] = O_STR("checkpoint", &ck.path, "checkpoint to write (rp_checkpoint_save) every --checkpoint-every iterations, on SIGINT/SIGTERM and at the end");
    opts[n++] = O_SIZE("checkpoint-every", &ck.every, 1, MAX_COUNT, "iterations between checkpoints (default 100)");
    opts[n++] = O_STR("resume", &ck.resume, "continue from this checkpoint (same options; --iters may grow)");
    opts[n++] = O_SIZE("stop-after", &ck.stop_after, 1, MAX_COUNT, "pause after this many iterations, checkpoint written, exit 1 (needs --checkpoint)");
    add_run_opts(opts, n, &rc, &ro, 0);
    int r = opt_parse("train", train_usage, opts, argc, argv, 2);
    if (r)
        return r < 0 ? 0 : r;
    r = apply_run_opts("train", opts, &rc, &ro, 0);
    if (r)
        return r;
    if (!ck.path && (opt_find(opts, "checkpoint-every")->set || opt_find(opts, "stop-after")->set))
        return usage_error("train", "--checkpoint-every and --stop-after need --checkpoint");
    /* The outputs: each a regular file or nothing, no two the same file, and
       none the checkpoint resumed from but --checkpoint itself. */
    struct {
        const char *flag, *path;
        char real[4096];
    } out[4] = {{"--curve", curve_path, ""}, {"--model", model_path, ""}, {"--checkpoint", ck.path, ""},
                {"--resume", ck.resume, ""}};
    for (int i = 0; i < 3; i++)
        if (out[i].path && (r = out_check("train", out[i].flag, out[i].path, out[i].real, sizeof out[i].real)))
            return r;
    if (ck.resume && out_resolve(ck.resume, out[3].real, sizeof out[3].real) != 0)
        out[3].path = NULL; /* unreadable: rp_checkpoint_load says why */
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 4; j++)
            if (out[i].path && out[j].path && !(i == 2 && j == 3) && out_same(out[i].real, out[j].real))
                return usage_error("train", "%s '%s' and %s '%s' name the same file", out[i].flag,
                                   out[i].path, out[j].flag, out[j].path);
    if (ck.path) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_train_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    FILE *curve = NULL;
    outfile cf;
    if (curve_path) {
        if (out_open(&cf, curve_path) != 0) {
            fprintf(stderr, "rnnplast train: cannot write %s: %s\n", curve_path, strerror(errno));
            return 1;
        }
        curve = cf.f;
    }
    progress p;
    progress_init(&p, "train");
    run_result res;
    int saved = 0;
    int fail = run_one_ck(&rc, &ck, &res, curve, model_path, &saved, quiet ? NULL : progress_update, &p);
    if (!quiet)
        progress_done(&p);
    if (curve && out_commit(&cf) != 0) {
        fprintf(stderr, "rnnplast train: cannot write %s: %s\n", curve_path, strerror(errno));
        if (!fail)
            return 1;
    }
    if (fail) {
        fprintf(stderr, "rnnplast train: %s\n", res.msg);
        return 1;
    }
    if (res.stopped && res.ok) {
        fprintf(stderr, "rnnplast train: %s after %zu of %zu iterations; continue with --resume %s\n",
                train_signal ? "interrupted" : "paused", res.iters_done, rc.iters, ck.path);
        return train_signal ? 128 + (int)train_signal : 1;
    }
    printf("task %s  rule %s  g %g  alpha %g  N %zu  floss %s\n", rp_task_kind_name(rc.task),
           rule_name(rc.rule), rc.gain, rc.alpha, rc.N, floss_name(rc.floss));
    printf("iterations       %zu\n", res.iters_done);
    printf("final test loss  %.6g\n", res.test_loss);
    printf("final test acc   %.4g\n", res.test_acc);
    printf("lambda_max       before %.5g  after %.5g  (per step)\n", res.lam_before, res.lam_after);
    if (model_path)
        printf("model            %s\n", saved ? model_path : "not saved");
    if (!res.ok) {
        fprintf(stderr, "rnnplast train: run stopped: %s\n", res.msg);
        return 1;
    }
    if (model_path && !saved)
        fprintf(stderr, "rnnplast train: warning: %s\n", res.msg);
    return 0;
}

/* ---- lyap -------------------------------------------------------------- */

/* Steps of one lyap run: 2^40 steps take days; far from size_t overflow. */
#define LYAP_MAX_STEPS (1ULL << 40)

static const char lyap_usage[] =
    "usage: rnnplast lyap [--model FILE | network options] [options]\n"
    "Lyapunov spectrum (first k exponents, per step) of a saved network, or of a\n"
    "freshly initialized one (W ~ N(0, g^2/N)), driven by a task's inputs or autonomous.";

int cmd_lyap(int argc, char **argv)
{
    const char *model = NULL, *task_s = NULL, *form_s = NULL, *act_s = NULL;
    size_t N = 32, k = 1, steps = 1000, transient = 100, t_ons = 1;
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
        O_STR("task", &task_s, "drive with this task's inputs (default: autonomous for a fresh net)"),
        O_FLAG("autonomous", &autonomous, "no input (x = 0)"),
        O_SIZE("k", &k, 1, MAX_UNITS, "exponents, at most N (default 1)"),
        O_SIZE("steps", &steps, 1, LYAP_MAX_STEPS, "steps counted (default 1000)"),
        O_SIZE("transient", &transient, 0, LYAP_MAX_STEPS, "steps discarded first (default 100)"),
        O_SIZE("t-ons", &t_ons, 1, MAX_PERIOD, "steps between QR re-orthonormalizations (default 1)"),
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
    if (model && (opt_find(opts, "N")->set || opt_find(opts, "gain")->set ||
                  opt_find(opts, "alpha")->set || form_s || act_s))
        return usage_error("lyap", "--model excludes --N, --gain, --alpha, --form, --act");
    size_t total;
    if (add_size(transient, steps, &total) != 0)
        return usage_error("lyap", "--transient %zu + --steps %zu overflows", transient, steps);
    rp_net_config nc = rp_net_config_default();
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
            fprintf(stderr, "rnnplast lyap: cannot load %s: %s: %s\n", model, rp_status_string(st), msg);
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
            fprintf(stderr, "rnnplast lyap: network: %s: %s\n", rp_status_string(st), rp_net_last_error(net));
            goto out;
        }
    }
    rp_net_config got;
    if ((st = rp_net_get_config(net, &got)) != RP_OK) {
        fprintf(stderr, "rnnplast lyap: network: %s: %s\n", rp_status_string(st), rp_net_last_error(net));
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
    rp_lyap_config lc = rp_lyap_config_default();
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
fail:
    {
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

/* ---- dispatch ---------------------------------------------------------- */

static const char main_usage[] =
    "usage: rnnplast COMMAND [options]   (rnnplast COMMAND --help for its options)\n"
    "  train   train one network; learning curve, lambda_max before/after, model\n"
    "  lyap    Lyapunov spectrum of a saved or freshly initialized network\n"
    "  sweep   grid of gains x rules x flossing x seeds in parallel; CSV + summary\n"
    "  plot    PNG figures from a sweep CSV (gnuplot)\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "rnnplast: missing command: train, lyap, sweep or plot (see rnnplast --help)\n");
        return EXIT_USAGE;
    }
    const char *c = argv[1];
    if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0 || strcmp(c, "help") == 0) {
        fputs(main_usage, stdout);
        return 0;
    }
    if (strcmp(c, "--version") == 0) {
        printf("rnnplast %s\n", rp_version_string());
        return 0;
    }
    if (strcmp(c, "train") == 0)
        return cmd_train(argc, argv);
    if (strcmp(c, "lyap") == 0)
        return cmd_lyap(argc, argv);
    if (strcmp(c, "sweep") == 0)
        return cmd_sweep(argc, argv);
    if (strcmp(c, "plot") == 0)
        return cmd_plot(argc, argv);
    fprintf(stderr, "rnnplast: unknown command '%s' (see rnnplast --help)\n", c);
    return EXIT_USAGE;
}
