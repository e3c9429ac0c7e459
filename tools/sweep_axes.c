/* sweep --feedbacks and --lrs (issue 14, item 8): the crossed feedback
   controls (e-prop with random feedback, RFLO with symmetric) and the
   learning-rate grid, as two more axes of the sweep's grid.  A sweep given
   neither runs and writes exactly what it did before them. */
#include "tool.h"

#include <string.h>

int sweep_axes_parse(const char *fbs, const char *lrs, int lr_set, axes_list *ax)
{
    memset(ax, 0, sizeof *ax);
    ax->on = fbs || lrs;
    char buf[1024], *tok[MAX_LRS + 1];
    if (fbs) {
        size_t n = split_list(fbs, buf, sizeof buf, tok, 2);
        if (n == 0 || n > 2)
            return usage_error("sweep",
                               "--feedbacks: expected symmetric, random or both, got '%.60s'", fbs);
        for (size_t i = 0; i < n; i++) {
            int fb;
            if (parse_feedback(tok[i], &fb) || fb == FB_NONE)
                return usage_error("sweep", "--feedbacks: expected symmetric or random, got '%s'",
                                   tok[i]);
            if (i == 1 && fb == ax->fbs[0])
                return usage_error("sweep", "--feedbacks: %s given twice", tok[i]);
            ax->fbs[ax->nfb++] = fb;
        }
    }
    if (lrs) {
        if (lr_set)
            return usage_error("sweep", "give --lr or --lrs, not both");
        size_t n = split_list(lrs, buf, sizeof buf, tok, MAX_LRS);
        if (n == 0 || n > MAX_LRS)
            return usage_error("sweep",
                               "--lrs: expected 1..%d comma-separated numbers > 0, got '%.60s'",
                               MAX_LRS, lrs);
        for (size_t i = 0; i < n; i++) {
            double v;
            if (parse_num(tok[i], &v) || !(v > 0.0))
                return usage_error("sweep", "--lrs: expected numbers > 0, got '%s'", tok[i]);
            /* the CSV and the curve files write lr with %g: distinct there */
            char a[32], b[32];
            snprintf(b, sizeof b, "%g", v);
            for (size_t k = 0; k < i; k++) {
                snprintf(a, sizeof a, "%g", ax->lrs[k]);
                if (strcmp(a, b) == 0)
                    return usage_error("sweep",
                                       "--lrs: %s and %s are the same rate in the CSV (%s)", tok[k],
                                       tok[i], a);
            }
            ax->lrs[ax->nlr++] = v;
        }
    }
    return 0;
}

/* Feedbacks of rule r's runs: the list for a rule with feedback, else one. */
static size_t n_fb(const axes_list *ax, rp_rule_kind r)
{
    return ax->nfb && rule_has_feedback(r) ? ax->nfb : 1;
}

size_t sweep_axes_count(const axes_list *ax, rp_rule_kind r)
{
    return ax->on ? n_fb(ax, r) * (ax->nlr ? ax->nlr : 1) : 1;
}

void sweep_axes_job(const axes_list *ax, const run_cfg *rc, size_t v, sweep_job *j)
{
    if (!ax->on)
        return;
    const size_t nl = ax->nlr ? ax->nlr : 1;
    const size_t f = v / nl, l = v % nl;
    j->fb = ax->nfb && rule_has_feedback(j->rule) ? ax->fbs[f] : rule_default_feedback(j->rule);
    j->lr = ax->nlr ? ax->lrs[l] : rc->lr > 0.0 ? rc->lr : default_lr(j->rule);
}
