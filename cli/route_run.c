/* cli/route_run.c — see route_run.h. */
#include "cli/route_run.h"
#include "cli/errors.h"
#include "data/batch.h"
#include "data/prompt.h"
#include "data/task.h"
#include <stdio.h>
#include <string.h>

/* one no-grad forward of ids, read into v while the arena still holds the routers' records */
static int forward_add(const LlamaModel *m, const Tokenizer *tk, const int *ids, int n, RouteView *v, Arena *a) {
    Tape t;
    tape_init(&t, a);
    tape_set_no_grad(&t, 1);
    if (m->moe) m->moe->keep_log = 1;   /* route_view_add reads every record whole */
    llama_hidden(&t, m, ids, 1, n, NULL);
    route_view_add(v, m, tk, ids, n);
    tape_free(&t);
    arena_reset(a);
    return 0;
}

static int check_ids(const LlamaModel *m, const int *ids, int n, const char *what) {
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size) {
            fprintf(stderr, "error: %s: token id %d at index %d is outside the vocabulary (expected 0..%d)\n", what,
                    ids[i], i, m->cfg.vocab_size - 1);
            return 1;
        }
    if (n > m->cfg.max_seq_len) {
        fprintf(stderr, "error: %s: %d tokens exceed the model's context of %d\n", what, n, m->cfg.max_seq_len);
        return 1;
    }
    if (n < 1) { fprintf(stderr, "error: %s: no tokens to route\n", what); return 1; }
    return 0;
}

int route_sequence(const LlamaModel *m, const Tokenizer *tk, const int *ids, int n, RouteView *v) {
    if (check_ids(m, ids, n, "route")) return 1;
    Arena a;
    arena_init(&a, (size_t)16 << 20);
    int rc = forward_add(m, tk, ids, n, v, &a);
    arena_free(&a);
    return rc;
}

int route_dataset(const LlamaModel *m, const Tokenizer *tk, const char *task, const char *data_dir,
                  const char *split, int limit, const char *style, RouteView *v) {
    McDataset ds;
    TokenizedSet ts;
    Error err;
    memset(&ds, 0, sizeof ds);
    memset(&ts, 0, sizeof ts);
    PromptConfig pc;
    prompt_config_default(&pc);
    pc.style = !strcmp(style, "plain") ? PROMPT_PLAIN : PROMPT_ALPACA;
    pc.max_len = m->cfg.max_seq_len;
    Status s = task_load(task, data_dir, split, &ds, &err);
    if (!s) s = dataset_tokenize(&ds, tk, &pc, &ts, &err);
    if (s) { error_print(&err); mc_dataset_free(&ds); return 1; }
    Arena a;
    arena_init(&a, (size_t)16 << 20);
    int rc = 0;
    for (int i = 0; i < ts.n && i < limit && !rc; i++) {
        const int *ids = ts.ids + ts.offset[i];
        char what[64];
        snprintf(what, sizeof what, "%s example %d", split, i + 1);
        rc = check_ids(m, ids, ts.prompt_len[i], what) || forward_add(m, tk, ids, ts.prompt_len[i], v, &a);
    }
    arena_free(&a);
    tokenized_set_free(&ts);
    mc_dataset_free(&ds);
    return rc;
}
