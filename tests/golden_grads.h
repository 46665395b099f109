/* tests/golden_grads.h — compares a model's adapter gradients with a golden gradient file.
   defines: golden_grad_error */
#ifndef GOLDEN_GRADS_H
#define GOLDEN_GRADS_H
#include "../nn/llama.h"

/* The worst max-abs-normalised error (max |ours - ref| / max |ref| per tensor; 0/0 = 0) over
   every tensor of the safetensors file at path, which must hold exactly the model's adapter
   tensors (Check assertions); *n_grads = the number of tensors compared. */
double golden_grad_error(const char *path, const LlamaModel *m, int *n_grads);

#endif
