/* tests/support/golden_grads.c — see golden_grads.h */
#include "tests/support/golden_grads.h"
#include "nn/adapter_io.h"
#include "nn/adapter_moe.h"
#include "nn/safetensors.h"
#include "tensor/check.h"
#include <check.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double golden_grad_error(const char *path, const LlamaModel *m, int *n_grads) {
    SafeTensors st;
    Error err;
    ck_assert_msg(safetensors_open(&st, path, &err) == STATUS_OK, "%s", err.message);
    int n_adapter = 0;
    for (int i = 0; i < m->ps.n; i++) n_adapter += adapter_is_param_name(m->ps.params[i]->name) != 0;
    ck_assert_int_eq((int)st.count, n_adapter);
    double worst = 0;
    for (size_t i = 0; i < st.count; i++) {
        const char *key = safetensors_at(&st, i)->name;
        ck_assert(!strncmp(key, ADAPTER_KEY_PREFIX, strlen(ADAPTER_KEY_PREFIX)));
        const Tensor *t = param_find(&m->ps, key + strlen(ADAPTER_KEY_PREFIX));
        ck_assert_msg(t && t->grad, "gradient %s has no adapter tensor", key);
        float *g = xmalloc(t->numel * sizeof *g);
        ck_assert_msg(safetensors_read_f32(&st, key, t->shape, t->ndim, g, &err) == STATUS_OK, "%s", err.message);
        double dmax = 0, gmax = 0;
        for (size_t j = 0; j < t->numel; j++) {
            dmax = fmax(dmax, fabs((double)t->grad[j] - (double)g[j]));
            gmax = fmax(gmax, fabs((double)g[j]));
        }
        worst = fmax(worst, gmax > 0 ? dmax / gmax : (dmax == 0 ? 0 : INFINITY));
        free(g);
    }
    *n_grads = (int)st.count;
    safetensors_close(&st);
    return worst;
}

double golden_rel_err(double c, double ref) {
    double d = fabs(c - ref);
    return ref != 0 ? d / fabs(ref) : (d == 0 ? 0 : INFINITY);
}

double golden_first8_error(const JsonValue *ref, const ForwardBackwardResult *r) {
    const JsonValue *f8 = json_get(ref, "logits_pos0_first8");
    ck_assert(f8 && f8->type == JSON_ARRAY && (int)f8->count == r->n_first8);
    double worst = 0;
    for (int j = 0; j < r->n_first8; j++) {
        double x = f8->items[j].number;
        worst = fmax(worst, fabs(r->logits_pos0_first8[j] - x) / fmax(1.0, fabs(x)));
    }
    return worst;
}

double golden_grad_norms_error(const JsonValue *ref, const LlamaModel *m) {
    const JsonValue *gn = json_get(ref, "grad_norms");
    ck_assert(gn && gn->type == JSON_OBJECT);
    double worst = 0;
    for (size_t i = 0; i < gn->count; i++) {
        const Tensor *t = param_find(&m->ps, gn->keys[i] + strlen(ADAPTER_KEY_PREFIX));
        ck_assert_msg(t && t->grad, "grad_norms key %s is not an adapter tensor", gn->keys[i]);
        double ss = 0;
        for (size_t j = 0; j < t->numel; j++) ss += (double)t->grad[j] * (double)t->grad[j];
        worst = fmax(worst, golden_rel_err(sqrt(ss), gn->items[i].number));
    }
    return worst;
}

int golden_read_args(const char *name, char *buf, size_t cap, char **argv, int max) {
    char path[256];
    snprintf(path, sizeof path, GOLDEN "/%s/args", name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "missing fixture %s (run from the repo root; regenerate with tests/golden/regen.sh)", path);
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    int argc = 0;
    argv[argc++] = "make-tiny";
    for (char *tok = strtok(buf, " \t\r\n"); tok && argc < max; tok = strtok(NULL, " \t\r\n")) argv[argc++] = tok;
    return argc;
}
