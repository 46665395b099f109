/* cli/report_header.h — the top of report.svg: the run's title, its configuration and its
   results, and the Load targets the Load panel draws.
   defines: ReportConfig, REPORT_MAX_TARGETS, report_config_read, report_header_height,
            report_header_write
   The configuration comes from config.json beside metrics.jsonl (written by ./train train), else
   from adapter/adapter_config.json (the demo writes no config.json). The balance point of the
   Load under the Eq. 6 loss is k·n/(n+m) per layer shape (REFERENCE.md §0, §1.3: each of the n+m
   experts gets 1/(n+m) of the k slots, so a token averages k·n/(n+m) true experts). */
#ifndef CLI_REPORT_HEADER_H
#define CLI_REPORT_HEADER_H
#include <stdio.h>

#define REPORT_MAX_TARGETS 8

typedef struct {
    char lines[4][512];       /* configuration text, already wrapped */
    int n_lines;
    int n_targets, aux_eq6, k_max;
    double target[REPORT_MAX_TARGETS];
    int target_k[REPORT_MAX_TARGETS], target_n[REPORT_MAX_TARGETS], target_m[REPORT_MAX_TARGETS];
    int has_summary;          /* filled from the summary record by the caller */
    double final_acc, best_acc, final_mcc, load;
    long best_step;
    int cola;
} ReportConfig;

/* reads the files beside metrics_path; n_layers: layers seen in the metrics (for per-layer lists) */
void report_config_read(const char *metrics_path, int n_layers, ReportConfig *rc);
int report_header_height(const ReportConfig *rc);
void report_header_write(FILE *f, const char *title, const ReportConfig *rc, int width);

#endif
