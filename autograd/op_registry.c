/* autograd/op_registry.c — ALL_OPS[]: the only list of ops. Tests loop over every case of every
   op listed here (tests/autograd/test_tape_gradcheck.c: plain and fan-out gradient checks in the
   double build, sanitizers in `make sanitize`), so an op without a gradient check cannot exist;
   tests/autograd/test_op_registry.c checks that every op_<name>() declared in an autograd/ops header
   is listed. Adding an op = its OpInfo (with its cases) in its ops/ file + one line here.
   Order does not matter (seeds come from the "op/case" names); no numeric ids.

   Speed twins. Six memory-saving variants compute exactly what an op computes, in the same
   order, so their values and gradients equal the op's bit for bit; each exists because it saves
   an [N, C]-sized buffer (and its copy or add) per use in the training step, and each is only
   valid for an input that no other op reads afterwards (each header says which). Each is tied
   to its op by a bitwise test in tests/autograd/test_inplace_twins.c:
     add_inplace              twin of add: acc += b into acc's storage and gradient
     scatter_add_rows_inplace twin of scatter_add_rows: the scatter into base's storage/gradient
     swiglu_shared_grad       twin of swiglu: the output's gradient buffer IS b's
     rope_inplace             twin of rope: rotates x in its own storage and gradient
     lora_linear_residual     twin of lora_linear then add: the output's gradient buffer IS res's
     routed_lora, case inplace  (op_routed_lora(..., inplace = 1)): the routed sum into base
   Decision: a twin that is its own function is registered as its own op, with twin_of naming
   the op it mirrors. An op is one function op_<name>(), and the registry test matches ops to
   the op_<name>() declarations one to one; a twin is a separate entry point with its own
   contract (which buffer it shares, what the caller must guarantee) and its own cases (frozen
   inputs), and twin_of makes the relation checkable (it must name a registered op that is not a
   twin itself). routed_lora's in-place form is a flag of the same function, so it is a case
   ("inplace") of routed_lora, not an op.
   Fused chains. routed_ffn is bitwise a CHAIN of registered ops (the MoE FFN's per-expert
   gather_rows, linear, linear, swiglu_shared_grad, linear, scatter_add_rows_inplace) in one tape
   entry that keeps less for the backward; twin_of names one op, so it is NULL there, and the tie
   to the chain is tests/autograd/test_routed_ffn.c. */
#include "autograd/ops.h"

const OpInfo *const ALL_OPS[] = {
    /* elementwise, reductions */
    &OP_ADD, &OP_ADD_INPLACE, &OP_MUL, &OP_SCALE, &OP_ADD_SCALED, &OP_SUM, &OP_MEAN, &OP_DROPOUT,
    /* products */
    &OP_LINEAR, &OP_MATMUL, &OP_LORA_LINEAR, &OP_LORA_LINEAR_RESIDUAL,
    /* rows and columns */
    &OP_EMBEDDING, &OP_GATHER_ROWS, &OP_SCATTER_ADD_ROWS, &OP_SCATTER_ADD_ROWS_INPLACE,
    &OP_SLICE_COLS, &OP_CONCAT_COLS, &OP_CONCAT_ROWS, &OP_ROW_SUM_COLS,
    /* activations, normalisation, attention */
    &OP_SILU, &OP_SWIGLU, &OP_SWIGLU_SHARED_GRAD, &OP_SOFTMAX, &OP_RMSNORM, &OP_ROPE,
    &OP_ROPE_INPLACE, &OP_CAUSAL_ATTENTION,
    /* the worked example of docs/autograd.md */
    &OP_GELU_TANH,
    /* losses */
    &OP_CROSS_ENTROPY, &OP_LINEAR_CROSS_ENTROPY, &OP_ROUTER_AUX, &OP_ROUTER_ENTROPY,
    /* routing */
    &OP_ROUTE_WEIGHTS, &OP_ROUTED_LORA, &OP_ROUTED_FFN,
    /* biases (Qwen2, attention_bias) */
    &OP_ADD_BIAS_INPLACE,
};
const int ALL_OPS_COUNT = (int)(sizeof ALL_OPS / sizeof ALL_OPS[0]);

int op_case_count(void) {
    int n = 0;
    for (int i = 0; i < ALL_OPS_COUNT; i++) n += ALL_OPS[i]->n_cases;
    return n;
}

const OpCase *op_case_at(int i, const OpInfo **op) {
    for (int k = 0; k < ALL_OPS_COUNT; k++) {
        if (i < ALL_OPS[k]->n_cases) {
            *op = ALL_OPS[k];
            return &ALL_OPS[k]->cases[i];
        }
        i -= ALL_OPS[k]->n_cases;
    }
    *op = NULL;
    return NULL;
}
