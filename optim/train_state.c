/* optim/train_state.c — the resume checkpoint: OUT/checkpoint/state.safetensors holds the
   trainable values ("params"), the AdamW moments ("adam_m", "adam_v") in the build's real type
   (exact, so a resumed run is bitwise identical), and as metadata the step, the data position
   (epoch, pos), the dropout RNG state, the seed, the parameter count, what the run was made of
   (model shape, adapter kind, a hash of the trainable names and shapes, the training set's size
   and token hash) and a checksum (FNV-1a 64 over every other field and the three tensors).
   Written atomically. On load the checkpoint is validated whole (every field parsed strictly and
   range-checked, the checksum, consistency with this run's model, adapter and data, finite
   values, non-negative second moments) before anything of it is applied. */
#include "optim/trainer.h"
#include "nn/adapter_io.h"
#include "nn/safetensors.h"
#include "data/token_cache.h"
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static SafeDtype real_dtype(void) { return sizeof(real) == sizeof(double) ? SAFE_F64 : SAFE_F32; }

enum { F_STEP, F_EPOCH, F_POS, F_RNG, F_SEED, F_NPARAMS, F_ASTEP, F_REAL, F_NTRAIN, F_DATA, F_MODEL, F_ADAPTER,
       F_LAYOUT, F_SKIPPED, F_COUNT };
static const char *const KEYS[F_COUNT] = { "step", "data_epoch", "data_pos", "dropout_rng", "seed", "n_params",
                                           "adam_step", "real", "n_train", "data_hash", "model", "adapter",
                                           "layout", "skipped_nonfinite" };
static const char *const TENSORS[3] = { "params", "adam_m", "adam_v" };

/* What a checkpoint must agree with: the model's shape, adapter kind and trainable layout. */
static void model_identity(const LlamaModel *m, char v[F_COUNT][128]) {
    const ModelConfig *c = &m->cfg;
    const ParamStore *ps = &m->ps;
    snprintf(v[F_MODEL], 128, "dim %d, layers %d, heads %d/%d, hidden %d, vocab %d", c->dim, c->n_layers, c->n_heads,
             c->n_kv_heads, c->hidden_dim, c->vocab_size);
    snprintf(v[F_ADAPTER], 128, "%s", adapter_kind_name(m->acfg.kind));
    uint64_t h = FNV64_INIT;
    for (int i = 0; i < ps->n; i++) {
        const Tensor *t = ps->params[i];
        if (ps->roles[i] != PARAM_TRAINABLE) continue;
        h = fnv1a64(t->name, strlen(t->name) + 1, h);
        h = fnv1a64(t->shape, sizeof(int) * (size_t)t->ndim, h);
    }
    snprintf(v[F_LAYOUT], 128, "%016" PRIx64, h);
}

/* ... and this run's training data. */
static void run_identity(const Trainer *tr, char v[F_COUNT][128]) {
    model_identity(tr->model, v);
    const TokenizedSet *ts = tr->train;
    uint64_t d = fnv1a64(ts->ids, ts->n_ids * sizeof(int), FNV64_INIT);
    d = fnv1a64(ts->label, (size_t)ts->n * sizeof(int), d);
    snprintf(v[F_NTRAIN], 128, "%d", ts->n);
    snprintf(v[F_DATA], 128, "%016" PRIx64, d);
}

/* FNV-1a 64 over "key=value\n" of every field, then the tensors' bytes */
static uint64_t checksum(const char *const vals[F_COUNT], const void *const data[3], size_t nbytes) {
    uint64_t h = FNV64_INIT;
    for (int i = 0; i < F_COUNT; i++) {
        h = fnv1a64(KEYS[i], strlen(KEYS[i]), h);
        h = fnv1a64("=", 1, h);
        h = fnv1a64(vals[i], strlen(vals[i]), h);
        h = fnv1a64("\n", 1, h);
    }
    for (int i = 0; i < 3; i++) h = fnv1a64(data[i], nbytes, h);
    return h;
}

Status trainer_save_state(const Trainer *tr, const char *dir, Error *err) {
    char path[1024], v[F_COUNT][128], sum[32];
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return error_set(err, STATUS_IO, NULL, "cannot create %s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/checkpoint/state.safetensors", dir);
    const ParamStore *ps = &tr->model->ps;
    int n = (int)ps->train_numel;
    const void *data[3] = { ps->train, tr->opt.m, tr->opt.v };
    run_identity(tr, v);
    snprintf(v[F_STEP], 128, "%ld", tr->step);
    snprintf(v[F_EPOCH], 128, "%d", tr->it.epoch);
    snprintf(v[F_POS], 128, "%d", tr->it.pos);
    snprintf(v[F_RNG], 128, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, tr->drop_rng.s[0],
             tr->drop_rng.s[1], tr->drop_rng.s[2], tr->drop_rng.s[3]);
    snprintf(v[F_SEED], 128, "%" PRIu64, tr->cfg.seed);
    snprintf(v[F_NPARAMS], 128, "%d", n);
    snprintf(v[F_ASTEP], 128, "%ld", tr->opt.step);
    snprintf(v[F_SKIPPED], 128, "%d", tr->skipped);
    snprintf(v[F_REAL], 128, "%s", sizeof(real) == sizeof(double) ? "double" : "float");
    const char *vals[F_COUNT];
    for (int i = 0; i < F_COUNT; i++) vals[i] = v[i];
    snprintf(sum, sizeof sum, "%016" PRIx64, checksum(vals, data, (size_t)n * sizeof(real)));
    SafeTensorsWriter w;
    safetensors_writer_init(&w);
    for (int i = 0; i < 3; i++) safetensors_writer_add(&w, TENSORS[i], real_dtype(), &n, 1, data[i]);
    for (int i = 0; i < F_COUNT; i++) safetensors_writer_set_metadata(&w, KEYS[i], v[i]);
    safetensors_writer_set_metadata(&w, "checksum", sum);
    Status s = safetensors_write(&w, path, err);
    safetensors_writer_free(&w);
    if (!s && (tr->model->acfg.kind == ADAPTER_LORA || adapter_is_routed(&tr->model->acfg))) {   /* PEFT export */
        snprintf(path, sizeof path, "%s/adapter", dir);
        s = adapter_save(tr->model, path, tr->cfg.model_name, err);
    }
    return s;
}

#define DAMAGED "the checkpoint is damaged: resume from an earlier copy, or start a new run"

/* strict decimal in [lo, hi]: no sign games, no empty string, no trailing bytes, no overflow */
static Status meta_long(const SafeTensors *st, const char *key, long lo, long hi, long *out, Error *err) {
    const char *v = safetensors_metadata(st, key);
    if (!v) return error_set(err, STATUS_FORMAT, DAMAGED, "%s: metadata \"%s\" is missing", st->path, key);
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno == ERANGE || (*v != '-' && (*v < '0' || *v > '9')))
        return error_set(err, STATUS_FORMAT, DAMAGED, "%s: metadata \"%s\" = \"%.40s\" is not an integer", st->path, key, v);
    if (x < lo || x > hi)
        return error_set(err, STATUS_FORMAT, DAMAGED, "%s: metadata \"%s\" = %ld is outside %ld..%ld", st->path, key, x,
                         lo, hi);
    *out = x;
    return STATUS_OK;
}

static int parse_rng(const char *s, Rng *r) {
    if (!s || strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64) return 0;
    for (int i = 0; i < 4; i++) {
        char part[17];
        memcpy(part, s + 16 * i, 16);
        part[16] = 0;
        r->s[i] = strtoull(part, NULL, 16);
    }
    return (r->s[0] | r->s[1] | r->s[2] | r->s[3]) != 0;   /* xoshiro's one forbidden state */
}

#define MAX_STEP (1L << 40)

typedef struct { long step, epoch, pos, n, astep, skipped; Rng rng; const SafeTensor *t[3]; } Fields;

/* Every field parsed and range-checked, the tensors shaped [n] of the build's type. */
static Status read_fields(const SafeTensors *st, const Trainer *tr, Fields *f, Error *err) {
    const long n_train = tr->train->n;
    Status s = meta_long(st, "step", 0, MAX_STEP, &f->step, err);
    if (!s) s = meta_long(st, "adam_step", 0, f->step, &f->astep, err);
    if (!s) s = meta_long(st, "data_pos", 0, n_train, &f->pos, err);
    /* every step reads `accum` batches, and each batch moves the epoch on at most once */
    long max_epoch = f->step * (long)tr->cfg.accum + 1;
    if (!s) s = meta_long(st, "data_epoch", 0, max_epoch < INT_MAX - 1 ? max_epoch : INT_MAX - 1, &f->epoch, err);
    if (!s) s = meta_long(st, "n_params", 1, INT_MAX, &f->n, err);
    if (!s) s = meta_long(st, "skipped_nonfinite", 0, f->step < INT_MAX ? f->step : INT_MAX, &f->skipped, err);
    if (!s && !parse_rng(safetensors_metadata(st, "dropout_rng"), &f->rng))
        s = error_set(err, STATUS_FORMAT, DAMAGED, "%s: metadata \"dropout_rng\" must be 64 lowercase hex digits, not all zero",
                      st->path);
    for (int i = 0; !s && i < 3; i++) {
        const SafeTensor *t = f->t[i] = safetensors_find(st, TENSORS[i]);
        if (!t || t->dtype != real_dtype() || t->ndim != 1 || t->shape[0] != f->n)
            s = error_set(err, STATUS_FORMAT, "resume with the same build (float or double) that wrote it",
                          "%s: tensor %s missing or not [%ld] of the build's float type", st->path, TENSORS[i], f->n);
    }
    return s;
}

static Status verify_checksum(const SafeTensors *st, const Fields *f, Error *err) {
    const char *vals[F_COUNT], *sum = safetensors_metadata(st, "checksum");
    for (int i = 0; i < F_COUNT; i++)
        if (!(vals[i] = safetensors_metadata(st, KEYS[i])))
            return error_set(err, STATUS_FORMAT, DAMAGED, "%s: metadata \"%s\" is missing", st->path, KEYS[i]);
    const void *data[3] = { f->t[0]->data, f->t[1]->data, f->t[2]->data };
    char want[32];
    snprintf(want, sizeof want, "%016" PRIx64, checksum(vals, data, f->t[0]->nbytes));
    if (!sum || strcmp(sum, want))
        return error_set(err, STATUS_FORMAT, DAMAGED, "%s: checksum %s does not match the contents (%s)", st->path,
                         sum ? sum : "(missing)", want);
    return STATUS_OK;
}

/* The checkpoint must come from this model, adapter, data and seed. */
static Status check_consistent(const SafeTensors *st, const Trainer *tr, const Fields *f, Error *err) {
    static const char *const what[] = { "model", "adapter", "trainable layout", "training examples",
                                        "training data hash", "seed" };
    static const int idx[] = { F_MODEL, F_ADAPTER, F_LAYOUT, F_NTRAIN, F_DATA, F_SEED };
    static const char *const hint[] = {
        "resume with the --model the run was made with",
        "resume with the --adapter the run was made with",
        "resume with the same adapter settings (--rank, --targets, --experts, ...)",
        "resume with the same --task, --data, --seq and tokenizer",
        "resume with the same --task, --data, --seq and tokenizer",
        "resume with the same --seed" };
    char v[F_COUNT][128];
    run_identity(tr, v);
    snprintf(v[F_SEED], 128, "%" PRIu64, tr->cfg.seed);
    for (int i = 0; i < 6; i++) {
        const char *got = safetensors_metadata(st, KEYS[idx[i]]);
        if (strcmp(got, v[idx[i]]))
            return error_set(err, STATUS_INVALID, hint[i], "%s was made with %s %s, this run has %s %s", st->path,
                             what[i], got, what[i], v[idx[i]]);
    }
    if (f->n != (long)tr->model->ps.train_numel)
        return error_set(err, STATUS_INVALID, "resume with the same model and adapter settings",
                         "%s holds %ld trainable values, this run has %zu", st->path, f->n, tr->model->ps.train_numel);
    return STATUS_OK;
}

/* finite values, v >= 0 (sqrt(v) in AdamW) */
static Status check_values(const SafeTensors *st, const Fields *f, Error *err) {
    for (int i = 0; i < 3; i++)
        for (long j = 0; j < f->n; j++) {
            real x;
            memcpy(&x, f->t[i]->data + (size_t)j * sizeof(real), sizeof x);
            if (!isfinite(x) || (i == 2 && x < 0))
                return error_set(err, STATUS_FORMAT, DAMAGED, "%s: %s[%ld] = %g is not %s", st->path, TENSORS[i], j,
                                 (double)x, i == 2 ? "a finite non-negative number" : "finite");
        }
    return STATUS_OK;
}

Status trainer_load_state(Trainer *tr, const char *dir, Error *err) {
    char path[1024];
    snprintf(path, sizeof path, "%s/checkpoint/state.safetensors", dir);
    SafeTensors st;
    Status s = safetensors_open(&st, path, err);
    if (s) return s;
    Fields f;
    memset(&f, 0, sizeof f);
    s = read_fields(&st, tr, &f, err);
    if (!s) s = verify_checksum(&st, &f, err);
    if (!s) s = check_consistent(&st, tr, &f, err);
    if (!s) s = check_values(&st, &f, err);
    if (!s) {   /* everything checked: apply */
        real *dst[3] = { tr->model->ps.train, tr->opt.m, tr->opt.v };
        for (int i = 0; i < 3; i++) memcpy(dst[i], f.t[i]->data, (size_t)f.n * sizeof(real));
        tr->drop_rng = f.rng;
        tr->step = f.step;
        tr->opt.step = f.astep;
        tr->skipped = (int)f.skipped;
        tr->epoch = (int)f.epoch;
        batch_iter_seek(&tr->it, (int)f.epoch, (int)f.pos);
    }
    safetensors_close(&st);
    return s;
}

/* `export --adapter full`: the trained values alone. The file must have been written for this
   model, adapter kind and trainable layout (run data and seed do not matter here), its checksum
   must hold and every value must be finite; only then are the values copied. */
Status train_state_load_params(LlamaModel *m, const char *path, Error *err) {
    SafeTensors st;
    Status s = safetensors_open(&st, path, err);
    if (s) return s;
    Fields f;
    memset(&f, 0, sizeof f);
    char v[F_COUNT][128];
    model_identity(m, v);
    static const int idx[] = { F_MODEL, F_ADAPTER, F_LAYOUT };
    static const char *const what[] = { "model", "adapter", "trainable layout" };
    for (int i = 0; !s && i < 3; i++) {
        const char *got = safetensors_metadata(&st, KEYS[idx[i]]);
        if (!got || strcmp(got, v[idx[i]]))
            s = error_set(err, STATUS_INVALID, "give the --model (and --adapter) the run was trained with",
                          "%s was made with %s %s, this model has %s %s", path, what[i], got ? got : "(missing)",
                          what[i], v[idx[i]]);
    }
    f.n = (long)m->ps.train_numel;
    for (int i = 0; !s && i < 3; i++) {
        const SafeTensor *t = f.t[i] = safetensors_find(&st, TENSORS[i]);
        if (!t || t->dtype != real_dtype() || t->ndim != 1 || t->shape[0] != f.n)
            s = error_set(err, STATUS_FORMAT, "export with the same build (float or double) that trained it",
                          "%s: tensor %s missing or not [%ld] of the build's float type", path, TENSORS[i], f.n);
    }
    if (!s) s = verify_checksum(&st, &f, err);
    if (!s) s = check_values(&st, &f, err);
    if (!s) memcpy(m->ps.train, f.t[0]->data, (size_t)f.n * sizeof(real));
    safetensors_close(&st);
    return s;
}
