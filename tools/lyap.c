/* rnnplast lyap: the Lyapunov spectrum of a saved or fresh network.  Public API only. */
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
        O_STR("task", &task_s,
              "drive with this task's inputs (default: autonomous for a fresh net)"),
        O_FLAG("autonomous", &autonomous, "no input (x = 0)"),
        O_SIZE("k", &k, 1, MAX_UNITS, "exponents, at most N (default 1)"),
        O_SIZE("steps", &steps, 1, LYAP_MAX_STEPS, "steps counted (default 1000)"),
        O_SIZE("transient", &transient, 0, LYAP_MAX_STEPS, "steps discarded first (default 100)"),
        O_SIZE("t-ons", &t_ons, 1, MAX_PERIOD,
               "steps between QR re-orthonormalizations (default 1)"),
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
