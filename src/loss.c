/* The loss and its error signal (MODEL.md §3), shared by every rule kind. */
#include "internal.h"

#include <math.h>
#include <string.h>

double rp__loss_error(rp_loss loss, size_t rows, size_t n_out, const double *y,
                      const double *target, const double *mask, double scale, double *e)
{
    double total = 0.0;
    for (size_t b = 0; b < rows; b++) {
        const double *yb = y + b * n_out;
        double *eb = e + b * n_out;
        double w = scale * (mask ? mask[b] : 1.0);
        if (w == 0.0) {
            /* a masked-out row contributes nothing, even when its loss
               overflows (0 * Inf would be NaN) */
            memset(eb, 0, n_out * sizeof *eb);
            continue;
        }
        if (loss == RP_LOSS_MSE) {
            const double *tb = target + b * n_out;
            double s = 0.0;
            for (size_t o = 0; o < n_out; o++) {
                double d = yb[o] - tb[o];
                s += d * d;
                eb[o] = w * d;
            }
            total += w * 0.5 * s;
        } else {
            /* -log softmax(y)[k], computed stably; dE/dy = softmax(y) - onehot(k) */
            size_t k = (size_t)target[b];
            double mx = yb[0];
            for (size_t o = 1; o < n_out; o++)
                mx = yb[o] > mx ? yb[o] : mx;
            double z = 0.0;
            for (size_t o = 0; o < n_out; o++)
                z += exp(yb[o] - mx);
            double lz = log(z) + mx;
            for (size_t o = 0; o < n_out; o++)
                eb[o] = w * (exp(yb[o] - lz) - (o == k ? 1.0 : 0.0));
            total += w * (lz - yb[k]);
        }
    }
    return total;
}
