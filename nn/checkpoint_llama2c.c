/* nn/checkpoint_llama2c.c — llama2.c .bin checkpoints (format in checkpoint.h, REFERENCE.md §4.1).
   Header bytes:
     v0   [0, 28)    7 × int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab, seq_len
                     (vocab < 0: the classifier is NOT shared with the embedding)
     v1   [0, 4)     magic 0x616b3432 ("ak42"), [4, 8) version = 1, [8, 36) the 7 int32
                     (vocab positive), [36] shared-classifier flag, zero padding to 256
   then raw float32 tensors, no names and no per-tensor sizes: the order and the shapes follow
   from the header alone. That is why the loader checks the exact file size first: it is the
   format's only integrity check, and a mismatch means a truncated file or a header that
   describes another model. Names map to HF's: w1 = gate_proj, w3 = up_proj, w2 = down_proj;
   per-layer tensors are stored as one block per kind, layer after layer ([L, ...]); matrices are
   row-major [out, in]. */
#include "nn/checkpoint.h"
#include "tensor/check.h"
#include "tensor/half.h"
#include "tensor/quant.h"
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LLAMA2C_MAGIC 0x616b3432u   /* a v0 file starts with dim, which is never this large */
#define LLAMA2C_V1_HEADER 256       /* v1 header bytes, padding included; v0's is 28 */

/* bf16 storage rounds to nearest even (tensor/half.h); real storage converts exactly (float)
   or widens (double) */
void param_set_f32(Tensor *t, const float *src) {
    if (t->quant) quant_set_f32(t->quant, src);
    else if (t->bf16) for (size_t i = 0; i < t->numel; i++) t->bf16[i] = f32_to_bf16(src[i]);
    else for (size_t i = 0; i < t->numel; i++) t->data[i] = (real)src[i];
}

void param_get_f32(const Tensor *t, float *dst) {
    if (t->quant) quant_dequant(t->quant, 0, t->numel, dst);
    else if (t->bf16) for (size_t i = 0; i < t->numel; i++) dst[i] = bf16_to_f32(t->bf16[i]);
    else for (size_t i = 0; i < t->numel; i++) dst[i] = (float)t->data[i];
}

/* an int32 from an unaligned spot of the header (little-endian host, as the format) */
static int read_i32(const unsigned char *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The header -> cfg. What the format does not store is fixed by llama2.c's run.c: RMSNorm eps
   1e-5, RoPE theta 10000, Meta row layout with interleaved RoPE (rope_half 0), and the Llama-2
   SentencePiece ids BOS 1 / EOS 2. The first 37 bytes cover either header's fields. */
Status llama2c_read_config(const char *path, ModelConfig *cfg, int *version, Error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(err, STATUS_IO, "check the --model path", "cannot open %s: %s", path, strerror(errno));
    unsigned char h[37];
    size_t got = fread(h, 1, sizeof h, f);
    fclose(f);
    if (got < 28)
        return error_set(err, STATUS_FORMAT, "is this a llama2.c .bin checkpoint?",
                         "%s: file is %zu bytes, too short for a llama2.c header (28 bytes)", path, got);
    uint32_t magic;
    memcpy(&magic, h, 4);
    int off = 0, shared;
    memset(cfg, 0, sizeof *cfg);
    if (magic == LLAMA2C_MAGIC) {
        if (got < 37) return error_set(err, STATUS_FORMAT, NULL, "%s: truncated v1 header (%zu bytes)", path, got);
        *version = read_i32(h + 4);
        if (*version != 1)
            return error_set(err, STATUS_FORMAT, "only llama2.c versions 0 (legacy) and 1 are supported",
                             "%s: llama2.c version %d at offset 4, expected 1", path, *version);
        off = 8;
        shared = h[36] != 0;
    } else {
        *version = 0;
        shared = read_i32(h + 20) > 0;
    }
    cfg->dim = read_i32(h + off);
    cfg->hidden_dim = read_i32(h + off + 4);
    cfg->n_layers = read_i32(h + off + 8);
    cfg->n_heads = read_i32(h + off + 12);
    cfg->n_kv_heads = read_i32(h + off + 16);
    int32_t vocab = read_i32(h + off + 20);   /* negative in v0: an unshared classifier */
    if (vocab == INT32_MIN)
        return error_set(err, STATUS_FORMAT, NULL, "%s: vocab size %d at offset %d is out of range", path, (int)vocab, off + 20);
    cfg->vocab_size = vocab < 0 ? -vocab : vocab;
    cfg->max_seq_len = read_i32(h + off + 24);
    cfg->head_dim = cfg->n_heads > 0 ? cfg->dim / cfg->n_heads : 0;
    cfg->norm_eps = 1e-5;
    cfg->rope_theta = 10000.0;
    cfg->tied = shared;
    cfg->rope_half = 0;
    cfg->bos_id = 1;
    cfg->eos_id = 2;
    Status s = model_config_validate(cfg, path, err);
    if (s) return s;
    if (cfg->head_dim * cfg->n_heads != cfg->dim)
        return error_set(err, STATUS_FORMAT, NULL, "%s: dim %d is not a multiple of n_heads %d", path, cfg->dim, cfg->n_heads);
    return STATUS_OK;
}

/* One tensor group of the file: `count` layers of the named per-layer parameter (or one
   global one when per_layer is NULL), each of `numel` values. */
typedef struct { const char *global; const char *per_layer; size_t numel; } Group;

/* The file's tensor groups in order, into g (at most 14). The legacy RoPE tables freq_cis_real
   and freq_cis_imag ([seq_len, D/2] each, v0 only) are listed with the name "" and skipped:
   the model computes its own RoPE table. The unshared classifier comes last. */
static size_t group_list(const ModelConfig *c, int version, Group *g) {
    size_t C = (size_t)c->dim, F = (size_t)c->hidden_dim, V = (size_t)c->vocab_size, D = (size_t)c->head_dim;
    size_t qd = (size_t)c->n_heads * D, kvd = (size_t)c->n_kv_heads * D;
    Group tok = { "model.embed_tokens.weight", NULL, V * C }, fin = { "model.norm.weight", NULL, C };
    Group ra = { NULL, "input_layernorm.weight", C }, rf = { NULL, "post_attention_layernorm.weight", C };
    Group wq = { NULL, "self_attn.q_proj.weight", qd * C }, wk = { NULL, "self_attn.k_proj.weight", kvd * C };
    Group wv = { NULL, "self_attn.v_proj.weight", kvd * C }, wo = { NULL, "self_attn.o_proj.weight", C * qd };
    Group w1 = { NULL, "mlp.gate_proj.weight", F * C }, w2 = { NULL, "mlp.down_proj.weight", C * F };
    Group w3 = { NULL, "mlp.up_proj.weight", F * C };
    Group freq = { "", NULL, (size_t)c->max_seq_len * (D / 2) };   /* skipped: real, then imag */
    size_t n = 0;
    if (version == 0) {
        Group order[] = { tok, ra, wq, wk, wv, wo, rf, w1, w2, w3, fin, freq, freq };
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) g[n++] = order[i];
    } else {
        Group order[] = { ra, rf, fin, tok, wq, wk, wv, wo, w1, w2, w3 };
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) g[n++] = order[i];
    }
    if (!c->tied) g[n++] = (Group){ "lm_head.weight", NULL, V * C };
    return n;
}

/* header + 4 bytes per float of every group (per-layer groups n_layers times) */
static size_t expected_size(const ModelConfig *c, int version, const Group *g, size_t n) {
    size_t bytes = version == 1 ? LLAMA2C_V1_HEADER : 28;
    for (size_t i = 0; i < n; i++) bytes += 4 * g[i].numel * (g[i].per_layer ? (size_t)c->n_layers : 1);
    return bytes;
}

/* the ParamStore tensor a group fills for `layer` (HF names: model.layers.{i}.<per_layer>) */
static Tensor *group_param(LlamaModel *m, const Group *g, int layer) {
    char name[160];
    if (g->global) return param_find(&m->ps, g->global);
    snprintf(name, sizeof name, "model.layers.%d.%s", layer, g->per_layer);
    return param_find(&m->ps, name);
}

/* Reads the groups in file order, one tensor at a time through a buffer that grows to the
   largest tensor (not the whole file), converting into each parameter's storage. The explicit
   seek per group is what lets the skipped groups cost nothing. */
static Status load_groups(LlamaModel *m, FILE *f, const char *path, int version, const Group *g, size_t n, Error *err) {
    long off = version == 1 ? LLAMA2C_V1_HEADER : 28;
    float *buf = NULL;
    size_t cap = 0;
    Status s = STATUS_OK;
    for (size_t i = 0; i < n && !s; i++) {
        int reps = g[i].per_layer ? m->cfg.n_layers : 1;
        if (g[i].global && !g[i].global[0]) { off += (long)(4 * g[i].numel); continue; }   /* freq_cis */
        if (g[i].numel > cap) { cap = g[i].numel; free(buf); buf = xmalloc(cap * sizeof *buf); }
        if (fseek(f, off, SEEK_SET) != 0) s = error_set(err, STATUS_IO, NULL, "%s: seek to %ld failed", path, off);
        for (int r = 0; r < reps && !s; r++) {
            if (fread(buf, 4, g[i].numel, f) != g[i].numel)
                s = error_set(err, STATUS_FORMAT, NULL, "%s: short read at offset %ld", path, off);
            else param_set_f32(group_param(m, &g[i], r), buf);
            off += (long)(4 * g[i].numel);
        }
    }
    free(buf);
    return s;
}

/* header -> adapter fits the model -> exact file size -> declare -> memory budget -> load. Every
   check runs before the model is allocated; if loading then fails, the model is freed again, so
   on error the caller owns nothing. */
Status llama2c_load_budget(LlamaModel *m, const char *path, const AdapterConfig *acfg, int frozen_bf16, const MemBudget *b,
                           Error *err) {
    ModelConfig cfg;
    int version;
    Status s = llama2c_read_config(path, &cfg, &version, err);
    if (!s) s = moe_ffn_check_model(&cfg, acfg, path, err);
    if (s) return s;
    Group g[16];
    size_t n = group_list(&cfg, version, g);
    struct stat st;
    if (stat(path, &st) != 0) return error_set(err, STATUS_IO, NULL, "cannot stat %s", path);
    size_t want = expected_size(&cfg, version, g, n);
    if ((size_t)st.st_size != want)
        return error_set(err, STATUS_FORMAT, "the file is truncated, or its header does not match its weights",
                         "%s: size %lld bytes, but the llama2.c v%d header (dim %d, layers %d, vocab %d, %s classifier) "
                         "implies %zu bytes", path, (long long)st.st_size, version, cfg.dim, cfg.n_layers,
                         cfg.vocab_size, cfg.tied ? "shared" : "unshared", want);
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(err, STATUS_IO, NULL, "cannot open %s: %s", path, strerror(errno));
    llama_declare_params(m, &cfg, acfg, frozen_bf16 < 0 ? 0 : frozen_bf16);   /* llama2.c files are f32: auto keeps f32 */
    s = memory_check(m, b, path, err);
    if (!s) s = llama_allocate(m, err);
    if (!s) s = load_groups(m, f, path, version, g, n, err);
    fclose(f);
    if (s) llama_free(m);
    return s;
}

Status llama2c_load(LlamaModel *m, const char *path, const AdapterConfig *acfg, int frozen_bf16, Error *err) {
    return llama2c_load_budget(m, path, acfg, frozen_bf16, NULL, err);
}
