/* One choice per trial from the decision-period readout (tool.h:
   choice_score): what a referee scores on a decision task, beside
   rp_task_score's per-step accuracy. */
#include "tool.h"

#include <math.h>

#define CHOICE_MAX_CLASSES 16

void choice_score(size_t T, size_t B, size_t n_out, const double *y, const double *target,
                  const double *mask, double *response_rate, double *choice_acc)
{
    size_t trials = 0, responded = 0, correct = 0;
    int finite = n_out >= 2 && n_out <= CHOICE_MAX_CLASSES;
    for (size_t b = 0; finite && b < B; b++) {
        double sum[CHOICE_MAX_CLASSES] = {0};
        size_t steps = 0, answer = 0;
        for (size_t t = 0; t < T; t++) {
            size_t i = t * B + b;
            /* the steps rp_task_score counts: mask > 0, target class not fixate */
            if (!(mask[i] > 0.0) || target[i] == 0.0)
                continue;
            if (!steps)
                answer = (size_t)target[i];
            steps++;
            for (size_t o = 0; o < n_out; o++)
                sum[o] += y[i * n_out + o];
        }
        if (!steps)
            continue;
        size_t choice = 0; /* ties go to the lower class: a tie with fixate is no response */
        for (size_t o = 0; o < n_out; o++) {
            finite &= isfinite(sum[o]);
            if (sum[o] > sum[choice])
                choice = o;
        }
        trials++;
        responded += choice != 0;
        correct += choice == answer;
    }
    *response_rate = finite && trials ? (double)responded / (double)trials : NAN;
    *choice_acc = finite && trials ? (double)correct / (double)trials : NAN;
}
