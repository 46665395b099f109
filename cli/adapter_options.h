/* cli/adapter_options.h — the adapter options of every command that builds or loads an adapter
   (train, eval, forward-backward, make-tiny): one struct, one flag table (cli/flags.h) and one
   parse-and-validate function, so the commands agree on names, defaults and meaning:
     --adapter lora|molora|adamoe|moe-ffn|full|none --targets --rank --alpha --rslora --dropout
     --experts n --null m --top-k k --rank r   (each one value, or one per layer: 2,2,4,4)
     --normalize true-only|all-selected --null-kind zero|identity|constant
     --routing topk|top-p|dense|stochastic|expert-choice --top-p --entropy-coef --shared-experts
     --aux eq6|vanilla|none --aux-coef C [--aux-schedule const|linear|epoch --aux-coef-end C2 |
     --aux-coefs c1,c2,...] --k-baseline 2 --gate2-init copy|zeros|random --upcycle n
     --router learned|frozen-random (SMoE-Dropout; turns the aux loss off) --pregate --freeze-experts
   Commands that read an adapter directory (eval, forward-backward) take its adapter_config.json
   as the options' values and apply the command line and --config over them
   (adapter_options_parse): a given routing / aux option overrides the file's, and the expert
   layout (kind, experts, top-k, rank, ...) must still match the tensors (adapter_load).
   The aux-coefficient schedule is the trainer's (optim/schedule.h); a single forward pass uses
   its value at step 0 (adapter_options_aux_coef0).
   defines: AdapterOptions, AdapterOptionsText, ADAPTER_OPTIONS_N_FLAGS, adapter_options_default,
            adapter_options_flags, adapter_options_lists, adapter_options_config,
            adapter_options_aux_coef0, adapter_options_from_config, adapter_options_parse,
            adapter_options_load_model */
#ifndef ADAPTER_OPTIONS_H
#define ADAPTER_OPTIONS_H
#include <stdint.h>
#include "nn/llama.h"
#include "nn/model_config.h"
#include "cli/flags.h"

#define ADAPTER_OPTIONS_N_FLAGS 26

typedef struct {
    const char *adapter, *targets;
    const char *experts_s, *null_s, *top_k_s, *rank_s;   /* "4" or one value per layer "2,2,4,4" */
    const char *normalize, *null_kind, *routing, *aux, *aux_schedule, *aux_coefs, *gate2_init;
    const char *router;                  /* learned | frozen-random (SMoE-Dropout) */
    int pregate, freeze_experts;
    double alpha, dropout, top_p, entropy_coef, aux_coef, aux_coef_end, k_baseline;
    int rslora, shared_experts, upcycle;
    int experts, n_null, top_k, rank;    /* the lists' first values (set by adapter_options_lists) */
} AdapterOptions;

/* storage for the strings adapter_options_from_config points the options at */
typedef struct {
    char s[5][MOE_MAX_LAYERS * 8];
} AdapterOptionsText;

/* train's defaults: lora, rank 8, alpha 16, all targets, 4 experts, 4 null, top-k 0 (the kind's
   default), true-only, zero nulls, top-k routing (top-p 0.4), eq6 with coef 0.001, const
   schedule, k-baseline 2, gate2 copy */
void adapter_options_default(AdapterOptions *o);
/* Writes the ADAPTER_OPTIONS_N_FLAGS flags pointing into *o to f; returns that count. */
int adapter_options_flags(AdapterOptions *o, Flag *f);
/* Parses --experts/--null/--top-k/--rank ("4" or "2,2,4,4"): o's first values and a's per-layer
   lists (a->n_layer_values = 0 when every flag has one value); lists of different lengths are
   an error. */
Status adapter_options_lists(AdapterOptions *o, AdapterConfig *a, Error *err);
/* Every option checked and turned into *a (enum names are checked whatever the kind). c (may be
   NULL) is the model: moe-ffn takes its expert count, and the per-layer lists must match its
   layer count. a->aux_coef is --aux-coef (the adapter's stored coefficient). */
Status adapter_options_config(const AdapterOptions *o, const ModelConfig *c, AdapterConfig *a, Error *err);
/* The aux coefficient of the trainer's first step: --aux-coef for const and linear, the first
   of --aux-coefs for epoch; checks the schedule options. */
Status adapter_options_aux_coef0(const AdapterOptions *o, double *coef, Error *err);
/* The options that describe adapter config a (routed fields only for molora / adamoe / moe-ffn);
   the strings live in *t. The aux schedule options are left alone. */
void adapter_options_from_config(AdapterOptions *o, const AdapterConfig *a, AdapterOptionsText *t);
/* flags_parse(argv[1..]) + --config (*config, if set); when *adapter_dir is then set (and no
   --help), its adapter_config.json becomes the adapter options' values and argv + --config are
   applied again over them. f[0..n) must include the flags of *o, *adapter_dir and *config. */
Status adapter_options_parse(Flag *f, int n, int argc, char **argv, AdapterOptions *o, AdapterOptionsText *t,
                             const char *const *adapter_dir, const char *const *config, int *help, Error *err);
/* model_load with adapter a, then: none = the base model; adapter_dir = that directory's
   tensors (adapter_load: its layout must equal a's); otherwise a fresh adapter from seed
   (llama_init_adapter: A random, B zero). base_dtype: the loaders' storage code (base_dtype_code). Per-layer lists must match the model's layers. On
   error nothing is left allocated. */
Status adapter_options_load_model(LlamaModel *m, const char *model_path, const char *adapter_dir,
                                  const AdapterConfig *a, uint64_t seed, int base_dtype, Error *err);

#endif
