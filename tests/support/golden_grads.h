/* tests/support/golden_grads.h — compares a model's adapter gradients with a golden gradient file.
   defines: GOLDEN, golden_read_args, golden_rel_err, golden_grad_error, golden_first8_error,
            golden_grad_norms_error */
#ifndef GOLDEN_GRADS_H
#define GOLDEN_GRADS_H
#include "nn/llama.h"
#include "nn/forward_backward.h"
#include "data/json.h"

#ifndef GOLDEN
#define GOLDEN "tests/golden"
#endif

/* GOLDEN/NAME/args -> make-tiny argv (argv[0] "make-tiny", then the whitespace-separated words;
   the strings point into buf); returns argc. A missing file fails the test with a hint. */
int golden_read_args(const char *name, char *buf, size_t cap, char **argv, int max);
/* |c - ref| / |ref| (0 when both are 0, inf when only ref is) */
double golden_rel_err(double c, double ref);
/* worst |ours - ref| / max(1, |ref|) over out.json's "logits_pos0_first8" */
double golden_first8_error(const JsonValue *ref, const ForwardBackwardResult *r);
/* worst relative error of every adapter tensor's gradient norm against out.json's "grad_norms" */
double golden_grad_norms_error(const JsonValue *ref, const LlamaModel *m);

/* The worst max-abs-normalised error (max |ours - ref| / max |ref| per tensor; 0/0 = 0) over
   every tensor of the safetensors file at path, which must hold exactly the model's adapter
   tensors (Check assertions); *n_grads = the number of tensors compared. */
double golden_grad_error(const char *path, const LlamaModel *m, int *n_grads);

#endif
