/* cli/route_run.h — the forwards of `./train route`: one sequence, or the prompts of a dataset,
   each run once without gradients (routing rules as in evaluation) and added to a RouteView.
   defines: route_sequence, route_dataset
   Both print their error (naming the file / token) and return 1 on bad input, 0 on success. */
#ifndef CLI_ROUTE_RUN_H
#define CLI_ROUTE_RUN_H
#include "cli/route_view.h"

int route_sequence(const LlamaModel *m, const Tokenizer *tk, const int *ids, int n, RouteView *v);
/* the first `limit` prompts (up to "Answer:") of task's split in data_dir, one forward each (batch
   1, so expert-choice routing chooses within each prompt); style: "alpaca" or "plain" */
int route_dataset(const LlamaModel *m, const Tokenizer *tk, const char *task, const char *data_dir,
                  const char *split, int limit, const char *style, RouteView *v);

#endif
