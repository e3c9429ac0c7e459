/* An independent look at two models saved by `rnnplast train` (tests/tool_cli.sh,
   the flossing options): reads their parameters through rp_net_load and
   rp_net_get_param only, and prints
     diff A B:  one line per parameter "NAME MAXABS FRO" of B - A
                (max |B_ij - A_ij| and the Frobenius norm of B - A, %.17g);
     ratio A B: "W MIN MAX" of B_ij / A_ij over the entries with A_ij != 0,
                then "others MAXABS": max |B - A| over U, b, V and c.
   Usage: tool_param_oracle diff|ratio A B */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnplast.h"

static const char *const names[RP_PARAM_COUNT] = {"W", "U", "b", "V", "c"};

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "diff") != 0 && strcmp(argv[1], "ratio") != 0)) {
        fprintf(stderr, "usage: tool_param_oracle diff|ratio A B\n");
        return 2;
    }
    rp_net *a = NULL, *b = NULL;
    char msg[256];
    if (rp_net_load(&a, argv[2], msg, sizeof msg) != RP_OK ||
        rp_net_load(&b, argv[3], msg, sizeof msg) != RP_OK) {
        fprintf(stderr, "oracle: %s\n", msg);
        return 1;
    }
    const int ratio = strcmp(argv[1], "ratio") == 0;
    double others = 0.0;
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        size_t la = 0, lb = 0;
        if (rp_net_get_param_len(a, (rp_param)p, &la) != RP_OK ||
            rp_net_get_param_len(b, (rp_param)p, &lb) != RP_OK || la != lb) {
            fprintf(stderr, "oracle: %s: lengths differ\n", names[p]);
            return 1;
        }
        double *x = calloc(la + 1, sizeof *x), *y = calloc(la + 1, sizeof *y);
        if (!x || !y ||
            (la && (rp_net_get_param(a, (rp_param)p, x, la) != RP_OK ||
                    rp_net_get_param(b, (rp_param)p, y, la) != RP_OK))) {
            fprintf(stderr, "oracle: %s: cannot read\n", names[p]);
            return 1;
        }
        double mx = 0.0, fro = 0.0, rmin = INFINITY, rmax = -INFINITY;
        for (size_t i = 0; i < la; i++) {
            double d = y[i] - x[i];
            mx = fabs(d) > mx ? fabs(d) : mx;
            fro += d * d;
            if (x[i] != 0.0) {
                double r = y[i] / x[i];
                rmin = r < rmin ? r : rmin;
                rmax = r > rmax ? r : rmax;
            }
        }
        if (!ratio)
            printf("%s %.17g %.17g\n", names[p], mx, sqrt(fro));
        else if (p == RP_PARAM_W)
            printf("W %.17g %.17g\n", rmin, rmax);
        else
            others = mx > others ? mx : others;
        free(x);
        free(y);
    }
    if (ratio)
        printf("others %.17g\n", others);
    rp_net_free(a);
    rp_net_free(b);
    return 0;
}
