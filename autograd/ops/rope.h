/* autograd/ops/rope.h — rotary position embeddings (Su et al. 2021, RoFormer) for [B,T,H,D].
   defines: RopeMode, RopeTable, rope_table_init, rope_table_init_freq, rope_table_free, op_rope,
            op_rope_inplace, rope_apply_inplace, OP_ROPE, OP_ROPE_INPLACE
   Pair j (0 <= j < D/2) is rotated by angle pos * inv_freq_j, inv_freq_j = theta^(-2j/D):
     ROPE_INTERLEAVED (Meta / llama2.c rows): the pair is (2j, 2j+1)
     ROPE_HALF        (HF rotate_half rows):  the pair is (j, j + D/2)
   (REFERENCE.md §4.4: the two agree after permuting q/k rows, HF h·D + t·D/2 + j = Meta h·D + 2j + t.)
   Angles, cos and sin are computed in double and then rounded to real, as torch_ref does. */
#ifndef OPS_ROPE_H
#define OPS_ROPE_H
#include "autograd/op.h"

typedef enum { ROPE_INTERLEAVED = 0, ROPE_HALF = 1 } RopeMode;

typedef struct {
    int max_pos, D;            /* positions 0..max_pos-1, head size D (even) */
    double theta;
    real *cos, *sin;           /* [max_pos, D/2]: cos/sin(pos * theta^(-2j/D)) */
    int owned;                 /* 1 if the arrays came from malloc (rope_table_free frees them) */
} RopeTable;

/* Fills the table once. Arrays come from `a`, or from malloc when a == NULL. */
void rope_table_init(RopeTable *tab, Arena *a, int max_pos, int D, double theta);
/* The same with given inverse frequencies inv_freq[0..D/2) (e.g. Llama 3's rescaled ones,
   nn/model_config.h rope_inv_freq); theta is only recorded. */
void rope_table_init_freq(RopeTable *tab, Arena *a, int max_pos, int D, double theta, const double *inv_freq);
void rope_table_free(RopeTable *tab);   /* frees malloc'd arrays; no-op for arena tables */

/* x [B, T, H, D] -> y [B, T, H, D], token t of every sequence at position pos0 + t
   (requires pos0 + T <= tab->max_pos). The table must outlive the tape's backward. */
Tensor *op_rope(Tape *t, Tensor *x, const RopeTable *tab, int pos0, RopeMode mode);

/* The same, rotating x itself: y is x (same values, same gradient buffer). Only for an x no
   other op reads afterwards (a fresh q / k projection): saves y's values and gradient.
   SPEED TWIN of op_rope (registered as op "rope_inplace", twin_of "rope"): the same rotation
   kernel, so values and gradients equal op_rope's bit for bit (tests/autograd/
   test_inplace_twins.c, test_rope_inplace_matches_rope). It exists to save q's and k's
   [B, T, H, D] rotated copies and their gradient buffers in every attention layer. */
Tensor *op_rope_inplace(Tape *t, Tensor *x, const RopeTable *tab, int pos0, RopeMode mode);
/* No-tape, in place: x [T, H, D] (one sequence), token t at position pos0 + t. */
void rope_apply_inplace(real *x, int T, int H, int D, const RopeTable *tab, int pos0, RopeMode mode);

extern const OpInfo OP_ROPE, OP_ROPE_INPLACE;   /* cases: interleaved, half */

#endif
