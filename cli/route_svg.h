/* cli/route_svg.h — `./train route --svg FILE`: the routing heat map of a RouteView.
   defines: route_svg_write
   Columns are the entries cols[0..n_cols) in order (-1 = an empty separator column: the
   dataset view puts the tokens using the most experts, a gap, then those using the fewest).
   Well-formed SVG, written atomically; one <rect> per (token, layer) cell. */
#ifndef CLI_ROUTE_SVG_H
#define CLI_ROUTE_SVG_H
#include "cli/route_view.h"

Status route_svg_write(const RouteView *v, const int *cols, int n_cols, const char *title, const char *subtitle,
                       const char *path, Error *err);

#endif
