/* tests/cli/test_report_svg.c — report.svg from a metrics.jsonl: well-formed XML (checked by the
   small independent checker in tests/support/xml_check.c), the series it carries (one polyline per
   series, the moving average once there are >= 25 steps, MCC for CoLA), the Eq. 6 balance point
   k·n/(n+m) drawn dashed from the run's adapter config (m5k4: 4·4/9 = 1.78), the configuration
   header from config.json, "no data" panels, and the nice axis ticks. */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tests/support/xml_check.h"
#include "tests/support/model_fixtures.h"
#include "cli/make_tiny.h"
#include "cli/report_svg.h"
#include "cli/svg.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* n train records with loss, lr, aux, aux_coef and two layers' Load; two evals */
static void write_metrics(const char *path, int n, const char *task) {
    FILE *f = fopen(path, "w");
    for (int s = 1; s <= n; s++)
        fprintf(f, "{\"type\":\"train\",\"step\":%d,\"loss\":%g,\"aux\":%g,\"aux_coef\":0.001,\"lr\":%g,"
                   "\"load_per_layer\":[%g,1.5]}\n", s, 3.0 / s, 2.0 + 0.01 * s, 1e-3 * (1.0 - (double)s / n), 2.0 - s * 0.01);
    fprintf(f, "{\"type\":\"eval\",\"step\":10,\"task\":\"%s\",\"acc\":0.5,\"mcc\":0.1,\"null_fraction\":0.5,"
               "\"bypass_fraction\":0.2,\"router_entropy\":1.9}\n", task);
    fprintf(f, "{\"type\":\"eval\",\"step\":20,\"task\":\"%s\",\"acc\":0.75,\"mcc\":0.3,\"null_fraction\":0.55,"
               "\"bypass_fraction\":0.25,\"router_entropy\":1.8}\n", task);
    fprintf(f, "{\"type\":\"summary\",\"step\":%d,\"best_acc\":0.75,\"best_step\":20,\"final_acc\":0.75,\"final_mcc\":0.3,"
               "\"load\":1.8}\n", n);
    fclose(f);
}

static char *report_of(const char *dir, const char *title) {
    char metrics[300], svg[300];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
    snprintf(svg, sizeof svg, "%s/report.svg", dir);
    Error err;
    ck_assert_msg(report_svg_write(metrics, svg, title, &err) == STATUS_OK, "%s", err.message);
    char *text = file_slurp(svg);
    ck_assert_ptr_nonnull(text);
    const char *problem = xml_check(text);
    ck_assert_msg(problem == NULL, "report.svg is not well-formed: %s", problem);
    return text;
}

START_TEST(test_svg_series_and_target)
{
    char *dir = tmp_dir_new(), path[300], adapter[300];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    write_metrics(path, 20, "rte");
    char *text = report_of(dir, "run <a & b>");
    /* loss (20 steps: no moving average), acc, 2 layers' Load, null + bypass, aux, aux coef, lr,
       entropy; no adapter config: no target */
    ck_assert_int_eq(text_count(text, "<polyline"), 10);
    ck_assert_ptr_nonnull(strstr(text, "run &lt;a &amp; b&gt;"));
    ck_assert_ptr_null(strstr(text, "k·n/(n+m)"));
    ck_assert_ptr_null(strstr(text, "MCC"));
    ck_assert_ptr_nonnull(strstr(text, "final dev accuracy 75.0%"));
    free(text);
    /* 30 steps: the moving average appears; CoLA: MCC too; an m5k4 adapter: the dashed target */
    write_metrics(path, 30, "cola");
    snprintf(adapter, sizeof adapter, "%s/adapter", dir);
    char model[300];
    snprintf(model, sizeof model, "%s/m.bin", dir);
    char *mk[] = { "make-tiny", "--format", "llama2c", "--out", model, "--adapter-out", adapter, "--adapter", "adamoe",
                   "--experts", "4", "--null", "5", "--top-k", "4", NULL };
    ck_assert_int_eq(run_cli_concat(make_tiny_cli, mk, NULL, NULL), 0);
    FILE *f = fopen(strcat(strcpy(path, dir), "/config.json"), "w");
    fprintf(f, "{\"task\":\"cola\",\"adapter\":\"adamoe\",\"null\":\"5\",\"lr\":0.0003,\"seed\":7,\"unshown\":1}\n");
    fclose(f);
    text = report_of(dir, "t");
    ck_assert_int_eq(text_count(text, "<polyline"), 12);
    ck_assert_ptr_nonnull(strstr(text, "moving average"));
    ck_assert_ptr_nonnull(strstr(text, ">MCC<"));
    ck_assert_ptr_nonnull(strstr(text, "k·n/(n+m) = 4·4/9 = 1.78"));
    ck_assert_ptr_nonnull(strstr(text, "task cola · adapter adamoe · null 5 · lr 0.0003 · seed 7"));
    ck_assert_ptr_null(strstr(text, "unshown"));
    free(text);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(path), 0);
    free(dir);
}
END_TEST

START_TEST(test_svg_no_data)
{
    char *dir = tmp_dir_new(), path[300];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"type\":\"train\",\"step\":1,\"loss\":2.5}\n");
    fclose(f);
    char *text = report_of(dir, "t");
    ck_assert_int_eq(text_count(text, "no data"), 2);   /* a LoRA run: loss, accuracy, lr panels only */
    ck_assert_int_eq(text_count(text, "<circle"), 1);   /* the single loss point stays visible */
    free(text);
    /* the checker itself rejects broken XML */
    ck_assert_ptr_nonnull(xml_check("<svg><g></svg>"));
    ck_assert_ptr_nonnull(xml_check("<svg a=1></svg>"));
    ck_assert_ptr_nonnull(xml_check("<svg>a & b</svg>"));
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(path), 0);
    free(dir);
}
END_TEST

START_TEST(test_svg_bad_metrics)
{
    char path[] = "/tmp/moetrain_badmetrics_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "{\"type\":\"train\",\"step\":1,\"loss\":2}\n{broken\n");
    fclose(f);
    Error err;
    ck_assert_int_eq(report_svg_write(path, "/tmp/moetrain_never.svg", "t", &err), STATUS_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, ":2:"));
    ck_assert_int_ne(access("/tmp/moetrain_never.svg", F_OK), 0);
    remove(path);
}
END_TEST

/* hand-worked: [-0.08643, 0.9] in ~5 ticks -> step 0.5 (0.987/4 = 0.247 rounds up to 0.5) from -0.5 */
START_TEST(test_nice_ticks)
{
    double lo = -0.08643, hi = 0.9, t[SVG_MAX_TICKS], step;
    char buf[32];
    int n = svg_nice_ticks(&lo, &hi, 5, t, &step);
    ck_assert_int_eq(n, 4);
    ck_assert_double_eq_tol(step, 0.5, 1e-12);
    ck_assert_double_eq_tol(lo, -0.5, 1e-12);
    ck_assert_double_eq_tol(hi, 1.0, 1e-12);
    const char *want[] = { "-0.5", "0.0", "0.5", "1.0" };
    for (int i = 0; i < n; i++) {
        svg_tick_label(t[i], step, buf, sizeof buf);
        ck_assert_str_eq(buf, want[i]);
    }
    lo = 0; hi = 0.003;   /* a learning rate: 0.001 steps, three decimals */
    n = svg_nice_ticks(&lo, &hi, 5, t, &step);
    ck_assert_int_eq(n, 4);
    svg_tick_label(t[3], step, buf, sizeof buf);
    ck_assert_str_eq(buf, "0.003");
    svg_tick_label(-1e-17, 0.1, buf, sizeof buf);   /* never "-0.0" */
    ck_assert_str_eq(buf, "0.0");
    lo = hi = 2.0;   /* a flat series gets a window around it */
    n = svg_nice_ticks(&lo, &hi, 5, t, &step);
    ck_assert(lo < 2.0 && hi > 2.0 && n >= 2);
    lo = 0; hi = 200;
    n = svg_nice_ticks(&lo, &hi, 6, t, &step);   /* 200/5 = 40 -> 50 */
    ck_assert_double_eq_tol(step, 50, 1e-9);
    ck_assert_int_eq(n, 5);
}
END_TEST

Suite *report_suite(void) {
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("svg");
    tcase_add_test(tc, test_svg_series_and_target);
    tcase_add_test(tc, test_svg_no_data);
    tcase_add_test(tc, test_svg_bad_metrics);
    tcase_add_test(tc, test_nice_ticks);
    suite_add_tcase(s, tc);
    return s;
}
