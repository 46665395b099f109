/* optim/train_state.c — the resume checkpoint: OUT/checkpoint/state.safetensors holds the
   trainable values ("params"), the AdamW moments ("adam_m", "adam_v") in the build's real type
   (exact, so a resumed run is bitwise identical), and as metadata the step, the data position
   (epoch, pos), the dropout RNG state, the seed and the parameter count. Written atomically;
   on load every field is checked against the current run. */
#include "optim/trainer.h"
#include "nn/adapter_io.h"
#include "nn/safetensors.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static SafeDtype real_dtype(void) { return sizeof(real) == sizeof(double) ? SAFE_F64 : SAFE_F32; }

Status trainer_save_state(const Trainer *tr, const char *dir, Error *err) {
    char path[1024], buf[8][128];
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return error_set(err, STATUS_IO, NULL, "cannot create %s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/checkpoint/state.safetensors", dir);
    const ParamStore *ps = &tr->model->ps;
    int n = (int)ps->train_numel;
    SafeTensorsWriter w;
    safetensors_writer_init(&w);
    safetensors_writer_add(&w, "params", real_dtype(), &n, 1, ps->train);
    safetensors_writer_add(&w, "adam_m", real_dtype(), &n, 1, tr->opt.m);
    safetensors_writer_add(&w, "adam_v", real_dtype(), &n, 1, tr->opt.v);
    snprintf(buf[0], sizeof buf[0], "%ld", tr->step);
    snprintf(buf[1], sizeof buf[1], "%d", tr->it.epoch);
    snprintf(buf[2], sizeof buf[2], "%d", tr->it.pos);
    snprintf(buf[3], sizeof buf[3], "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64,
             tr->drop_rng.s[0], tr->drop_rng.s[1], tr->drop_rng.s[2], tr->drop_rng.s[3]);
    snprintf(buf[4], sizeof buf[4], "%" PRIu64, tr->cfg.seed);
    snprintf(buf[5], sizeof buf[5], "%d", n);
    snprintf(buf[6], sizeof buf[6], "%ld", tr->opt.step);
    const char *keys[] = { "step", "data_epoch", "data_pos", "dropout_rng", "seed", "n_params", "adam_step" };
    for (int i = 0; i < 7; i++) safetensors_writer_set_metadata(&w, keys[i], buf[i]);
    safetensors_writer_set_metadata(&w, "real", sizeof(real) == sizeof(double) ? "double" : "float");
    Status s = safetensors_write(&w, path, err);
    safetensors_writer_free(&w);
    if (!s && (tr->model->acfg.kind == ADAPTER_LORA || adapter_is_routed(&tr->model->acfg))) {   /* PEFT export */
        snprintf(path, sizeof path, "%s/adapter", dir);
        s = adapter_save(tr->model, path, tr->cfg.model_name, err);
    }
    return s;
}

static Status meta_long(const SafeTensors *st, const char *key, long *out, Error *err) {
    const char *v = safetensors_metadata(st, key);
    char *end;
    if (!v || (*out = strtol(v, &end, 10), *end))
        return error_set(err, STATUS_FORMAT, "the checkpoint is damaged; start a new run",
                         "%s: metadata \"%s\" missing or not an integer", st->path, key);
    return STATUS_OK;
}

static Status read_vec(const SafeTensors *st, const char *name, real *out, int n, Error *err) {
    const SafeTensor *t = safetensors_find(st, name);
    if (!t || t->dtype != real_dtype() || t->ndim != 1 || t->shape[0] != n)
        return error_set(err, STATUS_FORMAT, "resume with the same model, adapter and build",
                         "%s: tensor %s missing or not [%d] of the build's float type", st->path, name, n);
    memcpy(out, t->data, (size_t)n * sizeof(real));
    return STATUS_OK;
}

Status trainer_load_state(Trainer *tr, const char *dir, Error *err) {
    char path[1024];
    snprintf(path, sizeof path, "%s/checkpoint/state.safetensors", dir);
    SafeTensors st;
    Status s = safetensors_open(&st, path, err);
    if (s) return s;
    long step = 0, epoch = 0, pos = 0, n = 0, seed = 0, astep = 0;
    if (!s) s = meta_long(&st, "step", &step, err);
    if (!s) s = meta_long(&st, "data_epoch", &epoch, err);
    if (!s) s = meta_long(&st, "data_pos", &pos, err);
    if (!s) s = meta_long(&st, "n_params", &n, err);
    if (!s) s = meta_long(&st, "seed", &seed, err);
    if (!s) s = meta_long(&st, "adam_step", &astep, err);
    const char *rng = safetensors_metadata(&st, "dropout_rng");
    if (!s && (!rng || strlen(rng) != 64))
        s = error_set(err, STATUS_FORMAT, NULL, "%s: metadata dropout_rng missing", path);
    if (!s && n != (long)tr->model->ps.train_numel)
        s = error_set(err, STATUS_INVALID, "resume with the same model and adapter settings",
                      "%s holds %ld trainable values, this run has %zu", path, n, tr->model->ps.train_numel);
    if (!s && (uint64_t)seed != tr->cfg.seed)
        s = error_set(err, STATUS_INVALID, "resume with the same --seed", "%s was written with seed %ld, this run uses %" PRIu64,
                      path, seed, tr->cfg.seed);
    if (!s) s = read_vec(&st, "params", tr->model->ps.train, (int)n, err);
    if (!s) s = read_vec(&st, "adam_m", tr->opt.m, (int)n, err);
    if (!s) s = read_vec(&st, "adam_v", tr->opt.v, (int)n, err);
    if (!s) {
        for (int i = 0; i < 4; i++) {
            char part[17];
            memcpy(part, rng + 16 * i, 16);
            part[16] = 0;
            tr->drop_rng.s[i] = strtoull(part, NULL, 16);
        }
        tr->step = step;
        tr->opt.step = astep;
        tr->epoch = (int)epoch;
        batch_iter_seek(&tr->it, (int)epoch, (int)pos);
    }
    safetensors_close(&st);
    return s;
}
