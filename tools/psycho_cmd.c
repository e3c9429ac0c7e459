/* rnnplast psycho: the psychometric curve of a saved network (psycho.c
   measures and writes it).  Public API only. */
#include "tool.h"

#include <string.h>

/* ---- rnnplast psycho ------------------------------------------------------ */

static const char psycho_usage[] =
    "usage: rnnplast psycho --model FILE --out FILE.csv [train's options]\n"
    "The psychometric curve of a saved network (rp_net_save, train --model): the\n"
    "network, noise-free, on --psy-trials fresh test trials at each coherence of\n"
    "--psy-coherences (2af, cxt), one choice per trial (rp_task_score_choices: the\n"
    "class whose readout summed over the decision steps is largest).  Writes the\n"
    "rows train --psychometric writes (task, rule, gain, floss, seed, coherence, n,\n"
    "response_rate, choice_acc, n_answer1, p_choose2_answer1, n_answer2,\n"
    "p_choose2_answer2)\n"
    "and prints them.  P(choose 2) against the signed coherence (-c for answer-1\n"
    "trials, +c for answer-2 trials) is the conventional curve; at coherence 0 the\n"
    "answer is the task's coin flip, chance 0.5.  Every coherence gets the same\n"
    "trials (seed 246813579: the same answers and noise, only the coherence\n"
    "differs).  It takes train's run options, so the command that trained the model\n"
    "runs with `train` replaced by `psycho` and --model/--psychometric by\n"
    "--model/--out: the task options (periods, --sigma, in tau too) set the trials;\n"
    "--rule, --gain, --floss and --seed only label the rows (the model does not\n"
    "record them); the other training options are ignored.  --alpha (--dt-tau)\n"
    "must be the model's when given.\n"
    "Output: a directory, FIFO, socket or device is refused (exit 2); a symlink is\n"
    "written through.  Exit status: 0, 1 (the model could not be read or scored), 2\n"
    "bad usage.";

int cmd_psycho(int argc, char **argv)
{
    run_cfg rc;
    run_cfg_default(&rc);
    run_opts ro;
    memset(&ro, 0, sizeof ro);
    psy_opts po;
    memset(&po, 0, sizeof po);
    const char *model = NULL, *out = NULL;
    int quiet = 0;
    opt opts[128];
    size_t n = 0;
    opts[n++] = O_STR("model", &model, "the saved network (required)");
    opts[n++] = O_STR("out", &out, "the psychometric CSV to write (required)");
    opts[n++] = O_FLAG("quiet", &quiet, "no table on stdout");
    n = add_psy_opts(opts, n, &po, 0);
    n = add_run_opts(opts, n, &rc, &ro, 0);
    add_units_opts(opts, n, &ro.units);
    int r = opt_parse("psycho", psycho_usage, opts, argc, argv, 2);
    if (r)
        return r < 0 ? 0 : r;
    if (!model || !out)
        return usage_error("psycho", "--model and --out are required");
    if ((r = apply_units_opts("psycho", opts, &rc, &ro)) ||
        (r = apply_run_opts("psycho", opts, &rc, &ro, 0)) ||
        (r = apply_psy_opts("psycho", opts, &po, &rc)))
        return r;
    char real[4096], mreal[4096];
    if ((r = out_check("psycho", "--out", out, real, sizeof real)))
        return r;
    if (out_resolve(model, mreal, sizeof mreal) == 0 && out_same(real, mreal))
        return usage_error("psycho", "--model '%s' and --out '%s' name the same file", model, out);
    rp_net *net = NULL;
    char msg[256];
    if (rp_net_load(&net, model, msg, sizeof msg) != RP_OK) {
        fprintf(stderr, "rnnplast psycho: cannot load %s: %s\n", model, msg);
        return 1;
    }
    rp_net_config nc;
    rp_net_config_init(&nc, sizeof nc);
    if (rp_net_get_config(net, &nc, sizeof nc) == RP_OK && nc.alpha != rc.alpha &&
        (opt_find(opts, "alpha")->set || opt_find(opts, "dt-tau")->set)) {
        rp_net_free(net);
        return usage_error("psycho", "the model's alpha is %g, the options give %g", nc.alpha,
                           rc.alpha);
    }
    run_result res;
    memset(&res, 0, sizeof res);
    res.psy_n = rc.psy.n;
    r = psy_eval(net, rc.task, &rc.tcfg, &rc.psy, res.psy, msg, sizeof msg);
    rp_net_free(net);
    if (r) {
        fprintf(stderr, "rnnplast psycho: %s: %s\n", model, msg);
        return 1;
    }
    po.path = out;
    memcpy(po.real, real, sizeof real);
    if (psy_write_run("psycho", &po, &rc, &res))
        return 1;
    if (!quiet)
        psy_print_table(stdout, &rc.psy, res.psy);
    return 0;
}
