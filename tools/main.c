/* rnnplast: train, measure and sweep recurrent networks with librnnplast.
   Subcommands: train (train.c), lyap (lyap.c), sweep (sweep.c), plot
   (plot.c), claims (claims.c); this file dispatches.  Public API only. */
#include "tool.h"

#include <string.h>

/* ---- dispatch ---------------------------------------------------------- */

static const char main_usage[] =
    "usage: rnnplast COMMAND [options]   (rnnplast COMMAND --help for its options)\n"
    "  train   train one network; learning curve, lambda_max before/after, model\n"
    "  lyap    Lyapunov spectrum of a saved or freshly initialized network\n"
    "  sweep   grid of gains x rules x flossing x seeds in parallel; CSV + summary\n"
    "  plot    PNG figures from a sweep CSV (gnuplot)\n"
    "  claims  paired comparisons of sweep CSV rows: the study's claims table\n"
    "  select  best lr per rule and gain chosen on validation seeds, reported on test seeds\n"
    "  floss-cosine  cosine(local, exact flossing gradient) on fresh nets per window\n"
    "  psycho  psychometric curve of a saved network (choices per coherence)\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(
            stderr,
            "rnnplast: missing command: train, lyap, sweep, plot, claims or psycho (see rnnplast --help)\n");
        return EXIT_USAGE;
    }
    prov_init(argc, argv);
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
    if (strcmp(c, "claims") == 0)
        return cmd_claims(argc, argv);
    if (strcmp(c, "select") == 0)
        return cmd_select(argc, argv);
    if (strcmp(c, "floss-cosine") == 0)
        return cmd_floss_cosine(argc, argv);
    if (strcmp(c, "psycho") == 0)
        return cmd_psycho(argc, argv);
    fprintf(stderr, "rnnplast: unknown command '%s' (see rnnplast --help)\n", c);
    return EXIT_USAGE;
}
