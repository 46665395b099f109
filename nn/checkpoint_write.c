/* nn/checkpoint_write.c — writers for base checkpoints: llama2.c .bin (v0 / v1) and the Hugging
   Face directory (config.json + model.safetensors). Tests use them to make fixtures; `convert`
   uses them too. Both are atomic (data/atomic_file.h).
   HF q/k rows differ from Meta rows by a permutation per head (REFERENCE.md §4.4):
   HF row h·D + t·(D/2) + j = Meta row h·D + 2j + t, t ∈ {0,1}; k uses the kv heads. */
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "nn/adapter_moe.h"
#include "data/atomic_file.h"
#include "tensor/check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <math.h>

/* Permutes the rows of w [heads*D, cols] between Meta and HF layouts (to_hf selects direction). */
void rope_permute_rows(float *w, int heads, int D, int cols, int to_hf) {
    size_t row_bytes = (size_t)cols * sizeof(float);
    float *tmp = xmalloc((size_t)D * row_bytes);
    for (int h = 0; h < heads; h++) {
        float *head = w + (size_t)h * D * cols;
        for (int t = 0; t < 2; t++)
            for (int j = 0; j < D / 2; j++) {
                int hf = t * (D / 2) + j, meta = 2 * j + t;
                int dst = to_hf ? hf : meta, src = to_hf ? meta : hf;
                memcpy(tmp + (size_t)dst * cols, head + (size_t)src * cols, row_bytes);
            }
        memcpy(head, tmp, (size_t)D * row_bytes);
    }
    free(tmp);
}

static Status write_param(FILE *f, const Tensor *t, const char *path, Error *err) {
    float *buf = xmalloc(t->numel * sizeof(float));
    param_get_f32(t, buf);
    size_t n = fwrite(buf, sizeof(float), t->numel, f);
    free(buf);
    if (n != t->numel) return error_set(err, STATUS_IO, NULL, "%s: write failed", path);
    return STATUS_OK;
}

static Status write_layers(FILE *f, const LlamaModel *m, const char *suffix, const char *path, Error *err) {
    char name[160];
    for (int i = 0; i < m->cfg.n_layers; i++) {
        snprintf(name, sizeof name, "model.layers.%d.%s", i, suffix);
        Status s = write_param(f, param_find(&m->ps, name), path, err);
        if (s) return s;
    }
    return STATUS_OK;
}

static void write_header(FILE *f, const ModelConfig *c, int version) {
    int32_t dims[7] = { c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads,
                        c->vocab_size, c->max_seq_len };
    if (version == 0) {
        if (!c->tied) dims[5] = -dims[5];
        fwrite(dims, 4, 7, f);
        return;
    }
    unsigned char h[256] = { 0 };
    uint32_t magic = 0x616b3432u;
    int32_t v = 1;
    memcpy(h, &magic, 4);
    memcpy(h + 4, &v, 4);
    memcpy(h + 8, dims, 28);
    h[36] = (unsigned char)(c->tied ? 1 : 0);
    fwrite(h, 1, sizeof h, f);
}

/* the legacy freq_cis tables of v0 (real then imag), which readers skip */
static void write_freq_cis(FILE *f, const ModelConfig *c) {
    int half = c->head_dim / 2;
    for (int part = 0; part < 2; part++)
        for (int p = 0; p < c->max_seq_len; p++)
            for (int j = 0; j < half; j++) {
                double ang = p / pow(c->rope_theta, 2.0 * j / c->head_dim);
                float v = (float)(part ? sin(ang) : cos(ang));
                fwrite(&v, 4, 1, f);
            }
}

Status llama2c_write(const LlamaModel *m, const char *path, int version, Error *err) {
    const ModelConfig *c = &m->cfg;
    CHECK(!c->rope_half, "llama2c_write needs a model in Meta (interleaved) layout");
    static const char *const v0[] = { "@tok", "input_layernorm.weight", "self_attn.q_proj.weight",
        "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
        "post_attention_layernorm.weight", "mlp.gate_proj.weight", "mlp.down_proj.weight",
        "mlp.up_proj.weight", "@norm", "@freq", NULL };
    static const char *const v1[] = { "input_layernorm.weight", "post_attention_layernorm.weight", "@norm",
        "@tok", "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
        "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.down_proj.weight", "mlp.up_proj.weight", NULL };
    AtomicFile af;
    Status s = dirs_make_parent(path, err);
    if (!s) s = atomic_write_begin(&af, path, err);
    if (s) return s;
    write_header(af.f, c, version);
    for (const char *const *p = version == 0 ? v0 : v1; *p && !s; p++) {
        if (!strcmp(*p, "@tok")) s = write_param(af.f, m->tok_emb, path, err);
        else if (!strcmp(*p, "@norm")) s = write_param(af.f, m->final_norm, path, err);
        else if (!strcmp(*p, "@freq")) write_freq_cis(af.f, c);
        else s = write_layers(af.f, m, *p, path, err);
    }
    if (!s && !c->tied) s = write_param(af.f, m->lm_head, path, err);
    if (s) { atomic_write_abort(&af); return s; }
    return atomic_write_commit(&af, err);
}

/* "eos_token_id": an integer, or the list when the model has several */
static void write_eos(FILE *f, const ModelConfig *c) {
    if (c->n_eos <= 1) { fprintf(f, "%d", c->eos_id); return; }
    for (int i = 0; i < c->n_eos; i++) fprintf(f, "%s%d", i ? ", " : "[", c->eos_ids[i]);
    fprintf(f, "]");
}

/* model_type and the family keys: mixtral experts, qwen2 (q/k/v biases implied, no sliding
   window), llama attention_bias, rope_scaling */
static void write_family(FILE *f, const ModelConfig *c) {
    int qkv = LORA_TARGET_Q | LORA_TARGET_K | LORA_TARGET_V, mix = c->n_experts > 0;
    CHECK(c->bias_targets == 0 || (c->qwen2 && c->bias_targets == qkv) ||
          (!c->qwen2 && !mix && c->bias_targets == (qkv | LORA_TARGET_O)),
          "hf_write: biases must be qwen2 q/k/v or llama q/k/v/o (got bits %d)", c->bias_targets);
    const char *arch = mix ? "MixtralForCausalLM" : c->qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
    fprintf(f, "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n", arch,
            mix ? "mixtral" : c->qwen2 ? "qwen2" : "llama");
    if (mix)   /* Mixtral: experts per layer and the router's top-k */
        fprintf(f, "  \"num_local_experts\": %d,\n  \"num_experts_per_tok\": %d,\n", c->n_experts,
                c->experts_per_tok);
    if (c->qwen2) fprintf(f, "  \"use_sliding_window\": false,\n");
    else if (!mix) fprintf(f, "  \"attention_bias\": %s,\n  \"mlp_bias\": false,\n", c->bias_targets ? "true" : "false");
    if (c->rope_scaling == ROPE_SCALING_LLAMA3)
        fprintf(f, "  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": %.17g, \"low_freq_factor\": %.17g, "
                "\"high_freq_factor\": %.17g, \"original_max_position_embeddings\": %d},\n", c->rope_factor,
                c->rope_low_freq, c->rope_high_freq, c->rope_orig_max_pos);
    else fprintf(f, "  \"rope_scaling\": null,\n");
}

Status hf_write_config(const ModelConfig *c, const char *dir, SafeDtype dtype, Error *err) {
    const char *dtype_name = dtype == SAFE_BF16 ? "bfloat16" : dtype == SAFE_F16 ? "float16" : "float32";
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    AtomicFile af;
    Status s = atomic_write_begin(&af, path, err);
    if (s) return s;
    write_family(af.f, c);
    fprintf(af.f,
            "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n"
            "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"head_dim\": %d,\n"
            "  \"vocab_size\": %d,\n  \"max_position_embeddings\": %d,\n  \"rms_norm_eps\": %.17g,\n"
            "  \"rope_theta\": %.17g,\n  \"tie_word_embeddings\": %s,\n  \"bos_token_id\": %d,\n"
            "  \"eos_token_id\": ", c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim,
            c->vocab_size, c->max_seq_len, c->norm_eps, c->rope_theta, c->tied ? "true" : "false", c->bos_id);
    write_eos(af.f, c);
    fprintf(af.f, ",\n  \"hidden_act\": \"silu\",\n  \"torch_dtype\": \"%s\"\n}\n", dtype_name);
    return atomic_write_commit(&af, err);
}

Status hf_write_weights(const LlamaModel *m, const char *dir, SafeDtype dtype, Error *err) {
    const ModelConfig *c = &m->cfg;
    Status ds = dirs_make(dir, err);
    if (ds) return ds;
    SafeTensorsWriter w;
    safetensors_writer_init(&w);
    float **bufs = xcalloc((size_t)m->ps.n, sizeof *bufs);
    for (int i = 0; i < m->ps.n; i++) {
        const Tensor *t = m->ps.params[i];
        if (adapter_is_param_name(t->name)) continue;   /* LoRA, routers, gate2 */
        int is_q = strstr(t->name, "q_proj.weight") != NULL, is_k = strstr(t->name, "k_proj.weight") != NULL;
        int permute = !c->rope_half && (is_q || is_k);   /* Meta rows -> HF rows */
        if (!permute && t->bf16 && dtype == SAFE_BF16) {   /* streamed from storage: no copy */
            safetensors_writer_add(&w, t->name, SAFE_BF16, t->shape, t->ndim, t->bf16);
            continue;
        }
        if (!permute && !t->bf16 && !t->quant) {
            safetensors_writer_add_real(&w, t->name, dtype, t->shape, t->ndim, t->data);
            continue;
        }
        bufs[i] = xmalloc(t->numel * sizeof(float));
        param_get_f32(t, bufs[i]);
        if (permute) rope_permute_rows(bufs[i], is_q ? c->n_heads : c->n_kv_heads, c->head_dim, t->shape[1], 1);
        safetensors_writer_add_f32(&w, t->name, dtype, t->shape, t->ndim, bufs[i]);
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    Status s = safetensors_write(&w, path, err);
    for (int i = 0; i < m->ps.n; i++) free(bufs[i]);
    free(bufs);
    safetensors_writer_free(&w);
    return s;
}

Status hf_write(const LlamaModel *m, const char *dir, SafeDtype dtype, Error *err) {
    Status s = hf_write_weights(m, dir, dtype, err);
    if (!s) s = hf_write_config(&m->cfg, dir, dtype, err);
    return s;
}

Status hf_copy_config(const char *src_dir, const char *dst_dir, Error *err) {
    char src[1024], dst[1024], buf[4096];
    snprintf(src, sizeof src, "%s/config.json", src_dir);
    snprintf(dst, sizeof dst, "%s/config.json", dst_dir);
    FILE *in = fopen(src, "rb");
    if (!in) return error_set(err, STATUS_IO, NULL, "cannot open %s", src);
    AtomicFile af;
    Status s = dirs_make(dst_dir, err);
    if (!s) s = atomic_write_begin(&af, dst, err);
    if (s) { fclose(in); return s; }
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, af.f);
    int bad = ferror(in);
    fclose(in);
    if (bad) { atomic_write_abort(&af); return error_set(err, STATUS_IO, NULL, "cannot read %s", src); }
    return atomic_write_commit(&af, err);
}
