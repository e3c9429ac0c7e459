/* An independent check of the sweep's one-choice-per-trial metrics
   (tests/tool_cli.sh): loads a model saved by `rnnplast train`, runs it on
   the tool's fixed test trials (2af with the periods given; the tool's
   SEED_TEST of tools/run.c), and recomputes response rate and choice
   accuracy naively: per trial, the readout summed over the last `decision`
   steps, its argmax (first maximum), compared with the trial's answer read
   from the target of its last step.  Prints "RESPONSE CHOICE" as %.6g.
   Usage: tool_choice_oracle MODEL TEST_BATCH FIXATION STIMULUS DELAY DECISION */
#include <stdio.h>
#include <stdlib.h>

#include "rnnplast.h"

#include "oracle_choice.h"

#define SEED_TEST 987654321ULL /* tools/run.c */

int main(int argc, char **argv)
{
    if (argc != 7)
        return 2;
    size_t B = strtoul(argv[2], NULL, 10);
    rp_task_config tc;
    if (rp_task_config_init(&tc, sizeof tc, RP_TASK_2AF) != RP_OK)
        return 1;
    tc.fixation = strtoul(argv[3], NULL, 10);
    tc.stimulus = strtoul(argv[4], NULL, 10);
    tc.delay = strtoul(argv[5], NULL, 10);
    tc.decision = strtoul(argv[6], NULL, 10);
    rp_task *task = NULL;
    rp_net *net = NULL;
    char msg[256];
    size_t n_in, n_out, T;
    if (rp_task_create(&task, RP_TASK_2AF, &tc, msg, sizeof msg) != RP_OK ||
        rp_task_get_dims(task, &n_in, &n_out, &T, NULL) != RP_OK ||
        rp_net_load(&net, argv[1], msg, sizeof msg) != RP_OK || rp_net_set_batch(net, B) != RP_OK) {
        fprintf(stderr, "oracle: setup failed: %s\n", msg);
        return 1;
    }
    double *x = calloc(T * B * n_in, sizeof *x), *tg = calloc(T * B, sizeof *tg);
    double *m = calloc(T * B, sizeof *m), *y = calloc(T * B * n_out, sizeof *y);
    if (!x || !tg || !m || !y || rp_task_sample(task, B, SEED_TEST, x, tg, m) != RP_OK ||
        rp_net_reset(net) != RP_OK || rp_net_run(net, T, x, y) != RP_OK) {
        fprintf(stderr, "oracle: run failed\n");
        return 1;
    }
    size_t responded = 0, correct = 0;
    for (size_t b = 0; b < B; b++) {
        int c = oracle_choice(y, T, B, n_out, tc.decision, b);
        responded += c != 0;
        correct += c == (int)tg[(T - 1) * B + b];
    }
    printf("%.6g %.6g\n", (double)responded / (double)B, (double)correct / (double)B);
    free(x);
    free(tg);
    free(m);
    free(y);
    rp_net_free(net);
    rp_task_free(task);
    return 0;
}
