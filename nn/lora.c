/* nn/lora.c — LoRA linear (see lora.h). Only ops: its backward comes from the tape.
   x [N, in] (any leading dims), W [out, in] frozen, A [R, in], B [out, R], s = alpha / R:
     y = x·Wᵀ + s · (dropout(x)·Aᵀ)·Bᵀ           [N, out]
   (Hu et al. 2021; rsLoRA: s = alpha / sqrt(R)). The adapter runs as two thin products through
   the rank-R bottleneck (x·Aᵀ is [N, R]): R·(in + out) multiply-adds per row on top of the base's
   in·out. A merged W + s·B·A would need a fresh [out, in] matrix, and its gradient, every
   step. Dropout hits only the adapter's input, as in PEFT: the frozen path always sees x
   itself. Gradients: dA, dB (trainable); dx flows through both paths; W gets one only when
   trainable (full fine-tuning). */
#include "nn/lora.h"
#include "autograd/ops.h"
#include <math.h>
#include <stdio.h>

/* PREFIX.SUFFIX [rows, cols] with the given role */
static Tensor *declare_named(ParamStore *ps, const char *prefix, const char *suffix, ParamRole role,
                             int rows, int cols) {
    char name[256];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    return param_declare(ps, name, role, 2, (int[]){ rows, cols });
}

/* Rank 0 declares the base weight only. For molora / adamoe the caller passes rank 0 and
   attaches m->moe afterwards (nn/llama.c), so a linear has either A, B or a bank of experts. */
void lora_linear_declare(LoraLinear *m, ParamStore *ps, const char *prefix, int in, int out,
                         int rank, const AdapterConfig *cfg, int full_ft) {
    m->in = in;
    m->out = out;
    m->rank = rank;
    m->weight = declare_named(ps, prefix, "weight", full_ft ? PARAM_TRAINABLE : PARAM_FROZEN, out, in);
    m->lora_a = m->lora_b = NULL;
    m->bias = NULL;
    m->moe = NULL;
    m->scaling = 0;
    m->dropout = 0;
    if (rank > 0) {
        m->lora_a = declare_named(ps, prefix, "lora_A.weight", PARAM_TRAINABLE, rank, in);
        m->lora_b = declare_named(ps, prefix, "lora_B.weight", PARAM_TRAINABLE, out, rank);
        m->scaling = (real)(cfg->rslora ? cfg->alpha / sqrt((double)rank) : cfg->alpha / rank);
        m->dropout = (real)cfg->dropout;
    }
}

void lora_linear_declare_bias(LoraLinear *m, ParamStore *ps, const char *prefix, int full_ft) {
    char name[256];
    snprintf(name, sizeof name, "%s.bias", prefix);
    m->bias = param_declare(ps, name, full_ft ? PARAM_TRAINABLE : PARAM_FROZEN, 1, (int[]){ m->out });
}

/* y (a fresh projection output) + the base bias, if any */
static Tensor *with_bias(Tape *t, const LoraLinear *m, Tensor *y) {
    return m->bias ? op_add_bias_inplace(t, y, m->bias) : y;
}

/* PEFT's init: A ~ U(±1/sqrt(in)) (kaiming_uniform with a = sqrt(5)), B = 0, so a fresh adapter
   adds exactly zero and training starts from the base model. A is random and only B zero (not
   both) so that dB = s·dyᵀ·(x·Aᵀ) is non-zero from the first step. */
void lora_linear_init(LoraLinear *m, Rng *rng) {
    if (m->moe) moe_linear_init(m->moe, rng);
    if (!m->lora_a) return;
    rng_fill_kaiming_uniform(rng, m->lora_a->data, m->lora_a->numel, m->in);
    for (size_t i = 0; i < m->lora_b->numel; i++) m->lora_b->data[i] = 0;
}

/* Four paths, the same math:
     LoRA, no dropout  one fused op_lora_linear (no [N, out] intermediates, lora_linear.h);
     routed experts    the base product, then moe_linear_forward_into adds the experts into
                       that fresh output in place (nn/moe.c);
     LoRA + dropout    base, dropout, x·Aᵀ, ·Bᵀ and a scaled add as separate ops;
     rank 0            the plain (frozen or fully trained) linear.
   Dropout runs only when training: a drop rate, an rng and a recording tape. */
Tensor *lora_linear_forward(Tape *t, const LoraLinear *m, Tensor *x, Rng *drop_rng) {
    int drop = m->lora_a && m->dropout > 0 && drop_rng && !t->no_grad;
    if (m->lora_a && !drop) return with_bias(t, m, op_lora_linear(t, x, m->weight, m->lora_a, m->lora_b, m->scaling));
    Tensor *y = with_bias(t, m, op_linear(t, x, m->weight));
    if (m->moe) return moe_linear_forward_into(t, m->moe, x, y, drop_rng);
    if (!m->lora_a) return y;
    Tensor *xin = x;
    if (drop) xin = op_dropout(t, x, m->dropout, drop_rng);
    Tensor *h = op_linear(t, xin, m->lora_a);        /* [..., R] */
    Tensor *d = op_linear(t, h, m->lora_b);          /* [..., out] */
    return op_add_scaled(t, y, d, m->scaling);
}

/* y + res (lora.h): the fused op covers the first path above; every other path adds res in
   place into its own fresh output */
Tensor *lora_linear_forward_residual(Tape *t, const LoraLinear *m, Tensor *x, Tensor *res, Rng *drop_rng) {
    int drop = m->lora_a && m->dropout > 0 && drop_rng && !t->no_grad;
    if (m->lora_a && !drop && !m->moe)
        return with_bias(t, m, op_lora_linear_residual(t, x, m->weight, m->lora_a, m->lora_b, m->scaling, res));
    return op_add_inplace(t, lora_linear_forward(t, m, x, drop_rng), res);
}
