/* cli/route_out.h — `./train route` output on stdout.
   defines: route_print_json, route_print_grid, route_print_extremes
   JSON (one line; outside tools read these keys):
     {"tokens":[{"text","id","true_experts_per_layer":[L],"experts_per_layer":[[...] per layer],
                 "weights_per_layer":[[...] per layer]}...],
      "load_per_layer":[L], "count_histogram":[routings with 0, 1, ... true experts],
      "modules":{"q":{"shown","routing","causal","n_true":[L],"n_null":[L],"top_k":[L],
                      "load_per_layer":[L],"true_experts_per_layer":[[L] per token]}, ...}}
   Token fields as in route_view.h (experts_per_layer: the experts selected, true 0..n-1 and null
   n..n+m-1, ascending; weights_per_layer: their mixing weights, mean over the routings); a
   dataset (--data) gives one token per id with "occurrences". null = a layer that routes nothing. */
#ifndef CLI_ROUTE_OUT_H
#define CLI_ROUTE_OUT_H
#include "cli/route_view.h"
#include <stdio.h>

void route_print_json(FILE *f, const RouteView *v);
/* the grid of the entries cols[0..n_cols) (-1 = a separator column); color: ANSI 24-bit colours;
   rows wrap into blocks at term_width columns */
void route_print_grid(FILE *f, const RouteView *v, const int *cols, int n_cols, int color, int term_width);
/* a table of the entries idx[0..n) with their occurrences and mean / per-layer true experts */
void route_print_extremes(FILE *f, const RouteView *v, const int *idx, int n, const char *title);

#endif
