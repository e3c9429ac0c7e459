/* rnnplast train: one network on a task (run.c does the run).  Public API only. */
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- train ------------------------------------------------------------- */

static const char train_usage[] =
    "usage: rnnplast train [options]\n"
    "Train one network on a task and write its learning curve (CSV: iter, train_loss,\n"
    "test_loss, test_acc, floss_F, response_rate, choice_acc; after '# built:' and\n"
    "'# command:' lines), lambda_max before and after training, and the model.\n"
    "With --checkpoint, SIGINT/SIGTERM pause the run after the current iteration (exit\n"
    "130/143) with the checkpoint written; the same command plus --resume continues it,\n"
    "ending bit-identical to a run never stopped (model and learning curve).  Only\n"
    "--iters may differ between the two commands.\n"
    "Outputs (--curve, --model, --checkpoint): a path that is a directory, FIFO, socket\n"
    "or device is refused (exit 2), as are two outputs naming one file (or --curve or\n"
    "--model naming the --resume file); a symlink is written through to its target.\n"
    "Numeric flags take plain decimal values within the range shown (exit 2 otherwise).\n"
    "--psychometric FILE: the trained net's psychometric rows (rnnplast psycho --help).\n"
    "Periods in tau (--delay-tau ...) and noise as continuous-time intensities\n"
    "(--sigma-ct, --noise-ct) are converted with dt/tau = 1 - alpha (MODEL.md section 8).";

/* SIGINT/SIGTERM while checkpointing: finish the iteration, save, exit. */
static volatile sig_atomic_t train_signal = 0;

static void on_train_signal(int sig) { train_signal = sig; }

int cmd_train(int argc, char **argv)
{
    run_cfg rc;
    run_cfg_default(&rc);
    run_opts ro;
    memset(&ro, 0, sizeof ro);
    const char *curve_path = NULL, *model_path = NULL, *fb_s = NULL;
    int quiet = 0;
    run_ckpt ck = {NULL, 100, NULL, 0, &train_signal};
    opt opts[128];
    psy_opts po;
    memset(&po, 0, sizeof po);
    size_t n = 0;
    opts[n++] = O_STR("curve", &curve_path, "learning-curve CSV to write (default: none)");
    opts[n++] = O_STR("model", &model_path, "trained model to write (rp_net_save)");
    opts[n++] = O_FLAG("quiet", &quiet, "no progress bar");
    opts[n++] = O_STR(
        "checkpoint", &ck.path,
        "checkpoint to write (rp_checkpoint_save) every --checkpoint-every iterations, on SIGINT/SIGTERM and at the end");
    opts[n++] = O_SIZE("checkpoint-every", &ck.every, 1, MAX_COUNT,
                       "iterations between checkpoints (default 100)");
    opts[n++] = O_STR("resume", &ck.resume,
                      "continue from this checkpoint (same options; --iters may grow)");
    opts[n++] =
        O_SIZE("stop-after", &ck.stop_after, 1, MAX_COUNT,
               "pause after this many iterations, checkpoint written, exit 1 (needs --checkpoint)");
    opts[n++] = O_STR("feedback", &fb_s,
                      "feedback of eprop/rflo/modprop: symmetric (B = V^T) or random (fixed, "
                      "drawn from --seed) (default: the rule's own, eprop/modprop symmetric, "
                      "rflo random)");
    n = add_psy_opts(opts, n, &po, 1);
    n = add_run_opts(opts, n, &rc, &ro, 0);
    add_units_opts(opts, n, &ro.units);
    int r = opt_parse("train", train_usage, opts, argc, argv, 2);
    if (r)
        return r < 0 ? 0 : r;
    r = apply_units_opts("train", opts, &rc, &ro);
    if (!r)
        r = apply_run_opts("train", opts, &rc, &ro, 0);
    if (!r)
        r = apply_psy_opts("train", opts, &po, &rc);
    if (r)
        return r;
    if (fb_s && (parse_feedback(fb_s, &rc.feedback) || rc.feedback == FB_NONE))
        return usage_error("train", "--feedback: expected symmetric or random, got '%s'", fb_s);
    if (fb_s && !rule_has_feedback(rc.rule))
        return usage_error("train", "--feedback is for eprop, rflo and modprop, the rule is %s",
                           rule_name(rc.rule));
    if (!ck.path && (opt_find(opts, "checkpoint-every")->set || opt_find(opts, "stop-after")->set))
        return usage_error("train", "--checkpoint-every and --stop-after need --checkpoint");
    /* A checkpoint holds the task optimizer only: the state of a flossing
       optimizer of its own would be lost between inter-flossing cycles. */
    if ((ck.path || ck.resume) && rc.phase == FP_INTER && rc.floss_optim != FOPT_SHARED &&
        (rc.floss != FL_OFF))
        return usage_error("train",
                           "--checkpoint and --resume do not keep the state of --floss-optim %s "
                           "between inter-flossing cycles; use --floss-optim shared or "
                           "--floss-phase pre",
                           ro.floss_optim);
    /* The outputs: each a regular file or nothing, no two the same file, and
       none the checkpoint resumed from but --checkpoint itself. */
    struct {
        const char *flag, *path;
        char real[4096];
    } out[4] = {{"--curve", curve_path, ""},
                {"--model", model_path, ""},
                {"--checkpoint", ck.path, ""},
                {"--resume", ck.resume, ""}};
    for (int i = 0; i < 3; i++)
        if (out[i].path &&
            (r = out_check("train", out[i].flag, out[i].path, out[i].real, sizeof out[i].real)))
            return r;
    if (ck.resume && out_resolve(ck.resume, out[3].real, sizeof out[3].real) != 0)
        out[3].path = NULL; /* unreadable: rp_checkpoint_load says why */
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 4; j++)
            if (out[i].path && out[j].path && !(i == 2 && j == 3) &&
                out_same(out[i].real, out[j].real))
                return usage_error("train", "%s '%s' and %s '%s' name the same file", out[i].flag,
                                   out[i].path, out[j].flag, out[j].path);
    for (int i = 0; po.path && i < 4; i++)
        if (out[i].path && out_same(po.real, out[i].real))
            return usage_error("train", "--psychometric '%s' and %s '%s' name the same file",
                               po.path, out[i].flag, out[i].path);
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
        char *pv = prov_lines();
        if (!pv) {
            out_abort(&cf);
            fprintf(stderr, "rnnplast train: out of memory\n");
            return 1;
        }
        fputs(pv, curve);
        free(pv);
    }
    progress p;
    progress_init(&p, "train");
    run_result res;
    int saved = 0;
    int fail =
        run_one_ck(&rc, &ck, &res, curve, model_path, &saved, quiet ? NULL : progress_update, &p);
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
    if (po.path && !res.stopped && psy_write_run("train", &po, &rc, &res))
        return 1;
    if (res.stopped && res.ok) {
        fprintf(stderr,
                "rnnplast train: %s after %zu of %zu iterations; continue with --resume %s\n",
                train_signal ? "interrupted" : "paused", res.iters_done, rc.iters, ck.path);
        return train_signal ? 128 + (int)train_signal : 1;
    }
    printf("task %s  rule %s  g %g  alpha %g  N %zu  floss %s\n", rp_task_kind_name(rc.task),
           rule_name(rc.rule), rc.gain, rc.alpha, rc.N, floss_name(rc.floss));
    printf("iterations       %zu\n", res.iters_done);
    printf("final test loss  %.6g\n", res.test_loss);
    printf("final test acc   %.4g\n", res.test_acc);
    printf("response rate    %.6g  (one choice per trial)\n", res.response_rate);
    printf("choice accuracy  %.6g  (of all trials; chance 0.5)\n", res.choice_acc);
    printf("lambda_max       before %.5g  after %.5g  (per step)\n", res.lam_before, res.lam_after);
    if (rc.floss == FL_RESCALE)
        printf("rescale          W x %.17g  (%zu lambda_max measurements)\n", res.floss_scale,
               res.rescale_meas);
    else if (rc.floss == FL_EXTRA)
        printf("extra iterations %zu  (before the %zu above)\n", rc.floss_iters, res.iters_done);
    else if (rc.floss != FL_OFF && rc.phase != FP_DURING)
        printf("flossing steps   %zu\n", res.floss_steps);
    {
        size_t d0, d1;
        const double dtau = 1.0 - rc.alpha; /* per tau = per step / (dt/tau), MODEL.md §1 */
        task_delay_window(rc.task, &rc.tcfg, &d0, &d1);
        printf("ftle lambda_1    before %.6g sd %.6g  after %.6g sd %.6g  (per step; mean, s.d. "
               "over %zu trials)\n",
               res.ftle_before, res.ftle_sd_before, res.ftle_after, res.ftle_sd_after,
               rc.ftle_trials);
        printf("ftle per tau     before %.6g  after %.6g  (dt/tau = %g)\n", res.ftle_before / dtau,
               res.ftle_after / dtau, dtau);
        printf("delay lambda     before %.6g  after %.6g  (per step; x %zu delay steps: %.6g, "
               "%.6g)\n",
               res.delay_before, res.delay_after, d1 - d0, res.delay_before * (double)(d1 - d0),
               res.delay_after * (double)(d1 - d0));
        printf("weight change    |dW|/|W0| %.6g  path/|W0| %.6g\n", res.dw_rel, res.path_rel);
    }
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
