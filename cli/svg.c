/* cli/svg.c — see svg.h. */
#include "cli/svg.h"
#include <math.h>
#include <string.h>

Status svg_begin(AtomicFile *af, const char *path, int width, int height, Error *err) {
    Status s = atomic_write_begin(af, path, err);
    if (s) return s;
    fprintf(af->f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "font-family=\"Helvetica, Arial, sans-serif\">\n"
                   "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", width, height, width, height, width, height);
    return STATUS_OK;
}

Status svg_end(AtomicFile *af, Error *err) {
    fprintf(af->f, "</svg>\n");
    return atomic_write_commit(af, err);
}

void svg_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

/* the nice number (1, 2, 5 x 10^e) nearest above x */
static double nice_step(double x) {
    double e = floor(log10(x)), f = x / pow(10, e);
    double n = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return n * pow(10, e);
}

int svg_nice_ticks(double *lo, double *hi, int target, double *ticks, double *step) {
    if (!isfinite(*lo) || !isfinite(*hi)) { *lo = 0; *hi = 1; }
    if (!(*hi > *lo)) {   /* a flat series: a unit-wide window around it */
        double c = *lo, w = fabs(c) > 0 ? fabs(c) * 0.1 : 0.5;
        *lo = c - w; *hi = c + w;
    }
    if (target < 2) target = 2;
    double st = nice_step((*hi - *lo) / (target - 1));
    double a = floor(*lo / st + 1e-9) * st, b = ceil(*hi / st - 1e-9) * st;
    int n = (int)lround((b - a) / st) + 1;
    while (n > SVG_MAX_TICKS) {
        st = nice_step(st * 1.5);
        a = floor(*lo / st + 1e-9) * st;
        b = ceil(*hi / st - 1e-9) * st;
        n = (int)lround((b - a) / st) + 1;
    }
    for (int i = 0; i < n; i++) ticks[i] = a + i * st;
    *lo = a;
    *hi = b;
    *step = st;
    return n;
}

void svg_tick_label(double v, double step, char *buf, size_t n) {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 8) dec = 8;
    if (fabs(v) < step * 1e-6) v = 0;   /* no "-0" */
    double av = fabs(v);
    if (av != 0 && (av >= 1e6 || step < 1e-3)) snprintf(buf, n, "%.3g", v);   /* 5e-04, 0.00125 */
    else snprintf(buf, n, "%.*f", dec, v);
    if (!strcmp(buf, "-0")) snprintf(buf, n, "0");
}
