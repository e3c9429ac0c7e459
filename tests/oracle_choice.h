/* The naive one-choice-per-trial scorer the tool oracles share
   (tests/tool_choice_oracle.c, tests/tool_psycho_oracle.c), written from the
   definition, independent of the library's rp_task_score_choices: a trial's
   choice is the class (0 fixate, 1, 2) whose output summed over the last
   `decision` steps is largest, ties to the lower class. */
#ifndef ORACLE_CHOICE_H
#define ORACLE_CHOICE_H

#include <stddef.h>

static int oracle_choice(const double *y, size_t T, size_t B, size_t n_out, size_t decision,
                         size_t b)
{
    double s[3] = {0, 0, 0};
    for (size_t t = T - decision; t < T; t++)
        for (size_t o = 0; o < 3; o++)
            s[o] += y[(t * B + b) * n_out + o];
    int c = 0;
    if (s[1] > s[c])
        c = 1;
    if (s[2] > s[c])
        c = 2;
    return c;
}

#endif
