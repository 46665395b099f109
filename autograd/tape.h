/* autograd/tape.h — the reverse-mode autodiff tape (symbol-to-number).
   defines: Tape, TapeEntry, BackwardFn, tape_init, tape_free, tape_reset, tape_wants_grad,
            tape_output, tape_output_inplace, tape_record, tape_backward, tape_backward_seeded,
            tape_set_no_grad, tape_record_hook, tape_backward_range, tape_backward_entry
   Ops record an entry while the forward runs; tape_backward() replays the entries in reverse.
   Recording order is already a topological order, so no graph sort is needed. Every backward
   ACCUMULATES (+=) into input grads (claimed ones aside, below) and skips inputs whose grad is
   NULL.
   Unset gradients (tensor.h): a large output's gradient buffer is not zero-filled when it is
   made (a step's [N, C] / [N, F] buffers were ~80 MB of stores for the stories15M shape). The
   replay makes an entry's output gradient and its inputs' real (zero-filled if still unset)
   before calling its backward, except the inputs in the entry's `claims` mask: that backward
   claims their buffers itself (tensor_grad_claim) and, when it gets one that was unset, writes
   it instead of adding (a GEMM with beta 0): the same values, one pass over memory fewer. A
   backward that adds into the gradient of a tensor that is not among its entry's inputs (e.g.
   op_concat_rows's, kept in its saved data) makes it real itself with tensor_grad_ready. The
   flag is not atomic: ready / claim run on the calling thread, never inside a pool task.
   In no-grad mode (eval, generation) nothing is recorded and outputs get no grad buffer.
   The entry array grows by doubling (a malloc only while it grows: after the first training
   step it has reached its size); everything else lives in the step arena. */
#ifndef TAPE_H
#define TAPE_H
#include "tensor/tensor.h"

#define TAPE_MAX_IN 4
/* gradients of at least this many elements start unset (tensor.h); smaller ones, losses and
   router statistics among them, are zero-filled at once. The checking builds (-DREAL=double,
   the sanitizer's) unset every one and fill it with NaN, so a reader that skips the protocol
   fails their tests. */
#define TAPE_UNSET_MIN 16384
#ifdef MOETRAIN_GRAD_POISON
#define TAPE_GRAD_POISON 1
#else
#define TAPE_GRAD_POISON REAL_IS_DOUBLE
#endif

typedef struct TapeEntry TapeEntry;
typedef void (*BackwardFn)(const TapeEntry *e);

struct TapeEntry {
    const char *op;              /* op name, for reports */
    BackwardFn backward;
    Tensor *out;
    Tensor *in[TAPE_MAX_IN];
    int n_in;
    unsigned claims;             /* bit i: the backward claims in[i]'s gradient itself (above) */
    void *saved;                 /* op-specific data (arena-allocated), e.g. saved statistics */
};

typedef struct {
    Arena *arena;                /* where outputs and saved data are allocated */
    TapeEntry *entries;
    int n, cap;
    int no_grad;
} Tape;

void tape_init(Tape *t, Arena *arena);
void tape_free(Tape *t);
void tape_reset(Tape *t);        /* forget all entries; call together with arena_reset */
void tape_set_no_grad(Tape *t, int no_grad);

/* 1 if recording is on and at least one of the n inputs has a grad buffer */
int tape_wants_grad(const Tape *t, int n, Tensor *const *in);
/* A fresh output tensor from the tape's arena (a gradient buffer iff with_grad: zero-filled, or
   unset when it has at least TAPE_UNSET_MIN elements) */
Tensor *tape_output(Tape *t, int ndim, const int *shape, int with_grad, const char *name);
/* In-place ops: a view of `base` with base's data AND gradient buffer (a fresh zero-filled
   gradient when base has none and with_grad). The op then overwrites base's values, and its
   backward turns dout into dbase in the shared buffer. Only for a base that no other op reads
   (values or gradient) afterwards, e.g. a projection output consumed once; saves one
   activation and one gradient buffer. */
Tensor *tape_output_inplace(Tape *t, Tensor *base, int with_grad, const char *name);
/* Records `out = op(in...)` if out->grad != NULL; returns the entry (or NULL if not recorded)
   so the op can attach `saved`. */
TapeEntry *tape_record(Tape *t, const char *op, BackwardFn bw, Tensor *out, int n_in, Tensor *const *in);

/* Records an entry that is not an op's differentiable output but a step of the backward itself
   (nn/recompute.h: a decoder layer to re-run and back-propagate), whatever out->grad is; out
   (may be NULL) is what reports name, saved the hook's data. NULL in no-grad mode. The hook may
   record entries past t->n while it runs (the entry array may move: it must read e->saved
   first and the entry no more) as long as it leaves t->n as it found it. */
TapeEntry *tape_record_hook(Tape *t, const char *op, BackwardFn bw, Tensor *out, void *saved);

/* Seeds d loss / d loss = 1 (loss must be a scalar with a grad) and replays the tape. */
void tape_backward(Tape *t, Tensor *loss);
/* Replays the tape with output grads already seeded by the caller. */
void tape_backward_seeded(Tape *t);
/* One entry's backward, its gradients made real first (the unset protocol above); what the
   replays below call for each entry, and what a profiler timing entries one by one calls. */
void tape_backward_entry(const TapeEntry *e);
/* Replays entries [begin, end) in reverse (output grads seeded by the caller). */
void tape_backward_range(Tape *t, int begin, int end);

#endif
