/* An independent check of the psychometric rows (tests/tool_psycho.sh):
   loads a model saved by `rnnplast train`, draws the psychometric trials
   itself (2af, the periods and sigma given, one coherence at a time, the
   tool's SEED_PSY of tools/tool.h), runs the network (noise-free: trained
   without state noise) and scores every trial naively: the readout summed
   over the last `decision` steps, its argmax (first maximum), the answer
   read from the target of the last step.  Prints one line per coherence:
   "coherence n response_rate choice_acc n_answer1 p_choose2_answer1
   n_answer2 p_choose2_answer2" (%.17g; nan for no trial).
   Usage: tool_psycho_oracle MODEL TRIALS FIXATION STIMULUS DELAY DECISION SIGMA COH... */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rnnplast.h"

#include "oracle_choice.h"

#define SEED_PSY 246813579ULL /* tools/tool.h */

static double frac(size_t a, size_t b) { return b ? (double)a / (double)b : NAN; }

int main(int argc, char **argv)
{
    if (argc < 9)
        return 2;
    size_t B = strtoul(argv[2], NULL, 10);
    rp_net *net = NULL;
    char msg[256];
    if (rp_net_load(&net, argv[1], msg, sizeof msg) != RP_OK || rp_net_set_batch(net, B) != RP_OK) {
        fprintf(stderr, "oracle: cannot load %s: %s\n", argv[1], msg);
        return 1;
    }
    for (int a = 8; a < argc; a++) {
        rp_task_config tc;
        if (rp_task_config_init(&tc, sizeof tc, RP_TASK_2AF) != RP_OK)
            return 1;
        tc.fixation = strtoul(argv[3], NULL, 10);
        tc.stimulus = strtoul(argv[4], NULL, 10);
        tc.delay = strtoul(argv[5], NULL, 10);
        tc.decision = strtoul(argv[6], NULL, 10);
        tc.sigma = strtod(argv[7], NULL);
        tc.coherences[0] = strtod(argv[a], NULL);
        tc.n_coherences = 1;
        rp_task *task = NULL;
        size_t n_in, n_out, T;
        if (rp_task_create(&task, RP_TASK_2AF, &tc, msg, sizeof msg) != RP_OK ||
            rp_task_get_dims(task, &n_in, &n_out, &T, NULL) != RP_OK) {
            fprintf(stderr, "oracle: task: %s\n", msg);
            return 1;
        }
        double *x = calloc(T * B * n_in, sizeof *x), *tg = calloc(T * B, sizeof *tg);
        double *m = calloc(T * B, sizeof *m), *y = calloc(T * B * n_out, sizeof *y);
        if (!x || !tg || !m || !y || rp_task_sample(task, B, SEED_PSY, x, tg, m) != RP_OK ||
            rp_net_reset(net) != RP_OK || rp_net_run(net, T, x, y) != RP_OK) {
            fprintf(stderr, "oracle: run failed\n");
            return 1;
        }
        size_t responded = 0, correct = 0, na[3] = {0, 0, 0}, c2[3] = {0, 0, 0};
        for (size_t b = 0; b < B; b++) {
            int c = oracle_choice(y, T, B, n_out, tc.decision, b);
            int ans = (int)tg[(T - 1) * B + b];
            responded += c != 0;
            correct += c == ans;
            na[ans]++;
            c2[ans] += c == 2;
        }
        printf("%s %zu %.17g %.17g %zu %.17g %zu %.17g\n", argv[a], B, frac(responded, B),
               frac(correct, B), na[1], frac(c2[1], na[1]), na[2], frac(c2[2], na[2]));
        free(x);
        free(tg);
        free(m);
        free(y);
        rp_task_free(task);
    }
    rp_net_free(net);
    return 0;
}
