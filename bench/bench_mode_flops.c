/* bench/bench_mode_flops.c — what `./train bench --mode` counts the way torch_llama.py does: its
   parameter counts and its model FLOPs per step (step_flops); see bench_mode.c's header for the
   formula in words and tests/cli/test_bench_mode.c for the script's own figures. */
#include "bench/bench.h"
#include "bench/bench_step.h"

/* parameters as the script counts them (each tensor once, tied embedding once; no padding) */
void bench_mode_param_counts(const ParamStore *ps, size_t *params, size_t *trainable) {
    *params = *trainable = 0;
    for (int i = 0; i < ps->n; i++) {
        *params += ps->params[i]->numel;
        if (ps->roles[i] == PARAM_TRAINABLE) *trainable += ps->params[i]->numel;
    }
}

/* the script's step_flops (see the header): ntok = B·T tokens, scored = rows under the loss,
   apt = measured true experts per token (routed modes) */
double bench_mode_flops(const ModelConfig *c, const AdapterConfig *a, int n_experts, int T, double ntok,
                        double scored, double apt) {
    double d = c->dim, h = c->hidden_dim, V = c->vocab_size, L = c->n_layers, R = a->rank;
    double qd = (double)c->n_heads * c->head_dim, kvd = (double)c->n_kv_heads * c->head_dim;
    double io[7][2] = { { d, qd }, { d, kvd }, { d, kvd }, { qd, d }, { d, h }, { h, d }, { d, h } };
    double mult = a->kind == ADAPTER_FULL ? 3 : 2, attn_proj = 0, lora = 0, router_in = 0;
    for (int j = 0; j < 4; j++) attn_proj += io[j][0] * io[j][1];
    for (int j = 0; j < 7; j++) {
        lora += 3 * 2 * R * (io[j][0] + io[j][1]);
        router_in += io[j][0];
    }
    double fl = 3 * (2 * 2 * (double)T * d) * L * ntok     /* attention core, full square */
              + mult * 2 * attn_proj * L * ntok + mult * 2 * d * V * scored;
    int ne = a->n_true + a->n_null;
    if (n_experts > 0)
        fl += 3 * 2 * d * ne * L * ntok + 3 * 2 * (3 * d * h) * L * ntok * apt;
    else
        fl += mult * 2 * (3 * d * h) * L * ntok;
    if (a->kind == ADAPTER_LORA) fl += lora * L * ntok;
    if (a->kind == ADAPTER_MOLORA || a->kind == ADAPTER_ADAMOE) fl += 3 * 2 * router_in * ne * L * ntok + lora * L * ntok * apt;
    return fl;
}
