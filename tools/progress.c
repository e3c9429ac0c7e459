/* rnnplast: progress reports on stderr (train and sweep).  Public API only. */
#include "tool.h"

#include <time.h>
#include <unistd.h>

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(progress *p, const char *label)
{
    p->label = label;
    p->tty = isatty(STDERR_FILENO);
    p->t0 = p->last = now_seconds();
}

/* A bar redrawn in place on a terminal; otherwise a plain line at most every
   10 s (logs stay readable). */
void progress_update(void *pv, size_t done, size_t total)
{
    progress *p = pv;
    double t = now_seconds();
    double el = t - p->t0;
    double eta = done ? el * (double)(total - done) / (double)done : 0.0;
    if (p->tty) {
        if (t - p->last < 0.1 && done < total)
            return;
        int w = 30, fill = total ? (int)((double)w * (double)done / (double)total) : w;
        char bar[32];
        for (int i = 0; i < w; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[w] = 0;
        fprintf(stderr, "\r%s [%s] %zu/%zu  %.0fs elapsed, eta %.0fs ", p->label, bar, done, total,
                el, eta);
    } else {
        if (t - p->last < 10.0 && done < total)
            return;
        fprintf(stderr, "%s: %zu/%zu done, %.0fs elapsed, eta %.0fs\n", p->label, done, total, el,
                eta);
    }
    fflush(stderr);
    p->last = t;
}

void progress_done(progress *p)
{
    if (p->tty)
        fprintf(stderr, "\n");
}
