/* nn/moe_ffn.h — a Mixtral-style mixture-of-experts FFN (Jiang et al. 2024, "Mixtral of Experts")
   and its AdaMoE form: a trainable `gate2` [m, C] appended to the frozen router adds m null experts
   (Zeng et al. 2024, "AdaMoE", experiment 2; REFERENCE.md §0, §1.1 exp_2), plus the dense→MoE
   upcycling of a Llama FFN (Komatsuzaki et al. 2023, "Sparse Upcycling").
   defines: MoeFfn, moe_ffn_declare, moe_ffn_declare_upcycled, moe_ffn_init, moe_ffn_forward,
            moe_ffn_router_logits, moe_ffn_free, moe_ffn_state_config, MOE_FFN_SLOT
   With x [N, C] (after the post-attention norm), n true experts, m null experts, top-k:
     z = [x·gateᵀ + s·(x·Aᵀ)·Bᵀ | x·gate2ᵀ] [N, n+m] (f32),  p = softmax(z),
     S_t = top-k(p) (ties → lower index)
     y = Σ_{e ∈ S_t, e < n} w_e · w2_e(silu(w1_e x) ⊙ w3_e x)   (+ Σ_null w · x for identity nulls)
   w per route.h: true-only renormalisation (AdaMoE option 2; with m = 0 this is exactly Mixtral's
   softmax → top-k → renormalise) or all-selected. Each expert's w1/w3/w2 may carry LoRA (targets
   gate/up/down = w1/w3/w2; plain LoRA adapters put them there too, as torch_ref). Compute is
   grouped by expert: gather the rows routed to e, run its
   SwiGLU FFN, weight, scatter-add; null experts cost nothing. torch_ref.py `Forward.moe_ffn` is
   the executable spec. Router LoRA (target "router", plain lora and moe-ffn on a Mixtral model):
   A [r, C] kaiming-uniform, B [n, r] zero, s = alpha / r (rsLoRA alpha / sqrt r), LoRA dropout on
   its input as for the other LoRAs; without the target the term is absent (and with B = 0 the
   logits are bitwise those of the frozen router: the base product is the same op_linear). The
   upcycled router is fully trained, so it takes no LoRA. The routing goes to the model's MoeState (slot MOE_FFN_SLOT of the layer),
   so the Eq. 6 aux loss and the statistics (Load, fractions) come from nn/moe.h unchanged.
   Names (ParamStore; adapter files add "base_model.model."):
     Mixtral   model.layers.{i}.block_sparse_moe.gate.weight [n, C] (frozen,
               + .lora_A.weight [r, C] / .lora_B.weight [n, r] with the target "router"),
               ...block_sparse_moe.experts.{e}.w1|w3|w2.weight (frozen, + .lora_A/.lora_B.weight),
               ...block_sparse_moe.gate2.weight [m, C] (trainable, only when m > 0)
     upcycled  every expert shares the dense model.layers.{i}.mlp.{gate,up,down}_proj.weight;
               model.layers.{i}.mlp.router.weight [n, C] (trainable, kaiming-uniform),
               model.layers.{i}.mlp.experts.{e}.{gate,up,down}_proj.lora_A/B.weight,
               model.layers.{i}.mlp.gate2.weight [m, C]. */
#ifndef MOE_FFN_H
#define MOE_FFN_H
#include "nn/lora.h"

#define MOE_FFN_SLOT 4   /* the MoeState module slot that records a layer's FFN router */

typedef struct {
    int dim, hidden, n_true, n_null, top_k;
    int all_selected, identity_nulls;
    MoeGate2Init gate2_init;
    Tensor *gate;              /* [n, C]: frozen (Mixtral) or trainable (upcycled) */
    LoraLinear router;         /* weight = gate; lora_a [r, C], lora_b [n, r] when targeted, else rank 0 */
    Tensor *gate2;             /* [m, C] trainable; NULL when m == 0 */
    int gate_trainable;        /* upcycled: the router is fresh and trained */
    LoraLinear *w1, *w3, *w2;  /* [n] experts: [F, C], [F, C], [C, F] */
    MoeState *state;
    int layer;
} MoeFfn;

/* The MoeState settings of a model whose FFNs are MoE blocks: n_true = n experts, n_null = m,
   top_k and aux from a moe-ffn adapter, else the base router (top-k = experts_per_tok, no aux).
   Full fine-tuning (kind full) with top_k > 0 routes as a moe-ffn adapter would (n_null zero
   null experts behind a trainable gate2, normalize, aux / aux_coef) with every weight trained:
   the benchmark's moe / moe_null modes (bench/bench_mode.c). */
AdapterConfig moe_ffn_state_config(const AdapterConfig *acfg, int n_experts, int experts_per_tok);
/* Mixtral block of layer i: declares gate, experts (+ LoRA per acfg targets gate/up/down) and,
   for a moe-ffn adapter with m > 0, gate2. top_k_base = the checkpoint's experts_per_tok. */
void moe_ffn_declare(MoeFfn *f, ParamStore *ps, int layer, int dim, int hidden, int n_experts, int top_k_base,
                     const AdapterConfig *acfg, MoeState *state);
/* Upcycled dense FFN: n = acfg->upcycle experts sharing w_gate/w_up/w_down. */
void moe_ffn_declare_upcycled(MoeFfn *f, ParamStore *ps, int layer, Tensor *w_gate, Tensor *w_up,
                              Tensor *w_down, const AdapterConfig *acfg, MoeState *state);
/* Expert LoRA A kaiming-uniform, B zero; gate2 per gate2_init (copy needs the loaded gate);
   upcycled router kaiming-uniform. */
void moe_ffn_init(MoeFfn *f, Rng *rng);
/* x [N, C] -> the router logits z [N, n+m] (gate + router LoRA, then gate2), as the forward
   routes them; drop_rng drives the router LoRA's dropout (training only, may be NULL). */
Tensor *moe_ffn_router_logits(Tape *t, const MoeFfn *f, Tensor *x, Rng *drop_rng);
/* h [N, C] -> the block's output [N, C] (the caller adds the residual). */
Tensor *moe_ffn_forward(Tape *t, const MoeFfn *f, Tensor *h, Rng *drop_rng);
void moe_ffn_free(MoeFfn *f);
/* CLI helper for moe-ffn adapters: sets a->upcycle and a->gate2_init ("copy" | "zeros" | "random");
   --upcycle only with moe-ffn. c (may be NULL) is checked by moe_ffn_check_model. */
Status moe_ffn_options(AdapterConfig *a, const ModelConfig *c, int upcycle, const char *gate2_init, Error *err);
/* The adapter fits the model: moe-ffn needs a Mixtral model (no --upcycle) or --upcycle n on a
   dense one; molora / adamoe are not available on Mixtral models; the target "router" needs a
   Mixtral model (a dense model has no router; an upcycled router is already trained in full).
   src names the model file. */
Status moe_ffn_check_model(const ModelConfig *c, const AdapterConfig *a, const char *src, Error *err);

#endif
