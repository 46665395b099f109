/* tests/nn/test_safetensors.c — nn/safetensors.h and data/atomic_file.h.
   Independent facts: file sizes and data offsets counted by hand, bf16/f16 bit patterns of
   known values, hand-written headers for the reader (not produced by our writer), and a
   table of broken files each of which must give STATUS_FORMAT naming the file. */
#include "tests/support/suites.h"
#include "nn/safetensors.h"
#include "data/atomic_file.h"
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static void make_tmpdir(void) {
    strcpy(tmpdir, "/tmp/moetrain_st_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Number of entries in dir (excluding . and ..); removes them when `clean`. */
static int dir_entries(const char *dir, int clean) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        n++;
        if (clean) {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (unlink(p) != 0) rmdir(p);
        }
    }
    closedir(d);
    return n;
}

static void remove_tmpdir(void) {
    dir_entries(tmpdir, 1);
    rmdir(tmpdir);
}

static size_t file_size(const char *path) {
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return (size_t)sb.st_size;
}

/* Writes u64 LE `n` (or strlen(header) when n == (uint64_t)-1), header, then data. */
static void write_raw(const char *path, uint64_t n, const char *header, const void *data, size_t dlen) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    size_t hlen = strlen(header);
    if (n == (uint64_t)-1) n = hlen;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(n >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(header, 1, hlen, f);
    if (dlen) fwrite(data, 1, dlen, f);
    fclose(f);
}

static void check_roundtrip_contents(const char *path, const float *w, const int64_t *ids, double pi);

START_TEST(test_st_roundtrip)
{
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    const float w[6] = { 1, -2, 3.5f, 0.25f, -0.125f, 1e-3f };
    const float b[4] = { 1.0f, -2.5f, 1.00390625f /* tie: rounds to even 1.0 */, 1.01171875f /* 1+3/256 -> 1.015625 */ };
    const double pi = 3.141592653589793;
    const int64_t ids[12] = { 0, -1, 2, -3, 4, (int64_t)1 << 40, 6, 7, 8, 9, 10, -11 };
    SafeTensorsWriter wr;
    safetensors_writer_init(&wr);
    safetensors_writer_add_f32(&wr, "w.f32", SAFE_F32, (int[]){ 2, 3 }, 2, w);
    safetensors_writer_add_f32(&wr, "b.bf16", SAFE_BF16, (int[]){ 4 }, 1, b);
    safetensors_writer_add(&wr, "t4.i64", SAFE_I64, (int[]){ 2, 1, 3, 2 }, 4, ids);
    safetensors_writer_add(&wr, "scalar.f64", SAFE_F64, NULL, 0, &pi);
    safetensors_writer_add_f32(&wr, "z", SAFE_F32, (int[]){ 0, 5 }, 2, NULL);
    safetensors_writer_set_metadata(&wr, "format", "np");
    safetensors_writer_set_metadata(&wr, "note", "a\"b\\c");
    safetensors_writer_set_metadata(&wr, "format", "pt");    /* replaces */
    Error err = { 0 };
    ck_assert_int_eq(safetensors_write(&wr, path, &err), STATUS_OK);
    safetensors_writer_free(&wr);

    /* 24 (w) + 8 (b) + 96 (t4) + 8 (scalar) + 0 (z) = 136 data bytes */
    FILE *f = fopen(path, "rb");
    unsigned char len8[8];
    ck_assert_int_eq(fread(len8, 1, 8, f), 8);
    fclose(f);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | len8[i];
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_uint_eq(file_size(path), 8 + n + 136);
    check_roundtrip_contents(path, w, ids, pi);
    remove_tmpdir();
}
END_TEST

/* What test_st_roundtrip wrote, read back: names, offsets, dtypes, values (by hand). */
static void check_roundtrip_contents(const char *path, const float *w, const int64_t *ids, double pi) {
    Error err = { 0 };
    SafeTensors st;
    ck_assert_msg(safetensors_open(&st, path, &err) == STATUS_OK, "%s", err.message);
    ck_assert_uint_eq(st.count, 5);
    ck_assert_str_eq(safetensors_metadata(&st, "format"), "pt");
    ck_assert_str_eq(safetensors_metadata(&st, "note"), "a\"b\\c");
    ck_assert_ptr_null(safetensors_metadata(&st, "nope"));
    /* iteration is in name order; data laid out in name order: offsets by hand */
    const char *names[5] = { "b.bf16", "scalar.f64", "t4.i64", "w.f32", "z" };
    const size_t begins[5] = { 0, 8, 16, 112, 136 };
    for (size_t i = 0; i < 5; i++) {
        ck_assert_str_eq(safetensors_at(&st, i)->name, names[i]);
        ck_assert_uint_eq(safetensors_at(&st, i)->begin, begins[i]);
    }
    const SafeTensor *t = safetensors_find(&st, "t4.i64");
    ck_assert_int_eq(t->dtype, SAFE_I64);
    ck_assert_int_eq(t->ndim, 4);
    ck_assert(t->shape[0] == 2 && t->shape[1] == 1 && t->shape[2] == 3 && t->shape[3] == 2);
    ck_assert_uint_eq(t->nbytes, 96);
    ck_assert(memcmp(t->data, ids, 96) == 0);
    t = safetensors_find(&st, "scalar.f64");
    ck_assert_int_eq(t->ndim, 0);
    ck_assert_uint_eq(t->numel, 1);
    double x;
    memcpy(&x, t->data, 8);
    ck_assert(x == pi);
    t = safetensors_find(&st, "b.bf16");
    ck_assert_int_eq(t->dtype, SAFE_BF16);
    const unsigned char bf_bytes[8] = { 0x80, 0x3F, 0x20, 0xC0, 0x80, 0x3F, 0x82, 0x3F };
    ck_assert(memcmp(t->data, bf_bytes, 8) == 0);
    float bo[4];
    ck_assert_int_eq(safetensors_read_f32(&st, "b.bf16", (int[]){ 4 }, 1, bo, &err), STATUS_OK);
    ck_assert(bo[0] == 1.0f && bo[1] == -2.5f && bo[2] == 1.0f && bo[3] == 1.015625f);
    real wo[6];
    ck_assert_int_eq(safetensors_read_real(&st, "w.f32", (int[]){ 2, 3 }, 2, wo, &err), STATUS_OK);
    for (int i = 0; i < 6; i++) ck_assert(wo[i] == (real)w[i]);
    t = safetensors_find(&st, "z");
    ck_assert(t->numel == 0 && t->nbytes == 0 && t->ndim == 2 && t->shape[1] == 5);
    ck_assert_ptr_null(safetensors_find(&st, "w"));
    safetensors_close(&st);
}

/* A file written byte by byte here, not by our writer: BF16, F16 and F64 read as floats. */
START_TEST(test_st_read_handmade)
{
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/hand.safetensors", tmpdir);
    const char *hdr = "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[4,10]},"
                      "\"a\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[0,4]},"
                      "\"d\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[10,18]}}";
    unsigned char data[18] = { 0x80, 0x3F, 0x20, 0xC0,              /* bf16 1.0, -2.5 */
                               0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00 }; /* f16 1.0, -2.0, 2^-24 */
    const double d = -0.1;
    memcpy(data + 10, &d, 8);
    write_raw(path, (uint64_t)-1, hdr, data, sizeof data);   /* N not a multiple of 8: allowed */
    SafeTensors st;
    Error err = { 0 };
    ck_assert_msg(safetensors_open(&st, path, &err) == STATUS_OK, "%s", err.message);
    float a[2], h[3], dv;
    ck_assert_int_eq(safetensors_read_f32(&st, "a", (int[]){ 1, 2 }, 2, a, &err), STATUS_OK);
    ck_assert(a[0] == 1.0f && a[1] == -2.5f);
    ck_assert_int_eq(safetensors_read_f32(&st, "h", (int[]){ 3 }, 1, h, &err), STATUS_OK);
    ck_assert(h[0] == 1.0f && h[1] == -2.0f && h[2] == ldexpf(1.0f, -24));
    ck_assert_int_eq(safetensors_read_f32(&st, "d", NULL, 0, &dv, &err), STATUS_OK);
    ck_assert(dv == (float)-0.1);
    real dr;
    ck_assert_int_eq(safetensors_read_real(&st, "d", NULL, 0, &dr, &err), STATUS_OK);
    ck_assert(dr == (real)-0.1);
    ck_assert_ptr_null(st.metadata);
    safetensors_close(&st);
    remove_tmpdir();
}
END_TEST

typedef struct {
    const char *what;
    uint64_t n;             /* header length to write; (uint64_t)-1 = the real one */
    const char *header;
    size_t data_len;
    const char *needle;
} BrokenFile;

#define REAL_N ((uint64_t)-1)
static const BrokenFile broken[] = {
    { "header length too large", 1000, "{}", 4, "header length 1000, expected at most" },
    { "header length absurd", (uint64_t)1 << 62, "{}", 0, "expected at most" },
    { "bad JSON", REAL_N, "{\"a\":", 0, ":1:6: expected a value" },
    { "not an object", REAL_N, "[1]", 0, "header is a JSON array, expected an object" },
    { "unknown dtype", REAL_N, "{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
      "tensor a: unknown dtype \"F33\"" },
    { "negative dim", REAL_N, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
      "tensor a: shape[0] is not a non-negative integer" },
    { "fractional dim", REAL_N, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
      "shape[0]" },
    { "no dtype", REAL_N, "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "expected a \"dtype\"" },
    { "size mismatch", REAL_N, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
      "tensor a: data_offsets [0, 4] hold 4 bytes, expected 8" },
    { "begin > end", REAL_N, "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
      "tensor a: expected \"data_offsets\" to be [begin, end]" },
    { "offsets not a pair", REAL_N, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4,8]}}", 4,
      "data_offsets" },
    { "end beyond buffer", REAL_N, "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 4,
      "beyond the data buffer, expected at most 4" },
    { "hole", REAL_N, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
      "tensor b begins at byte 8 of the data buffer, expected 4" },
    { "overlap", REAL_N, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlaps tensor a" },
    { "first not at 0", REAL_N, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
      "expected 0" },
    { "trailing bytes", REAL_N, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
      "tensors end at byte 4 of the data buffer, expected 8" },
    { "duplicate name", REAL_N, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
      "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, "duplicate \"a\"" },
    { "metadata not strings", REAL_N, "{\"__metadata__\":{\"epoch\":3}}", 0,
      "__metadata__ key \"epoch\" is a number, expected a string" },
    { "entry not object", REAL_N, "{\"a\":[1]}", 0, "tensor a: expected an object" },
};

START_TEST(test_st_broken_files)
{
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/broken.safetensors", tmpdir);
    unsigned char zeros[64] = { 0 };
    for (size_t k = 0; k < sizeof broken / sizeof broken[0]; k++) {
        const BrokenFile *c = &broken[k];
        write_raw(path, c->n, c->header, zeros, c->data_len);
        SafeTensors st;
        Error err = { 0 };
        Status s = safetensors_open(&st, path, &err);
        ck_assert_msg(s == STATUS_FORMAT, "%s: accepted (status %d)", c->what, (int)s);
        ck_assert_msg(strncmp(err.message, path, strlen(path)) == 0, "%s: message does not start with the "
                      "file name: %s", c->what, err.message);
        ck_assert_msg(strstr(err.message, c->needle), "%s: want '%s' in '%s'", c->what, c->needle, err.message);
    }
    /* truncated: fewer than 8 bytes */
    FILE *f = fopen(path, "wb");
    fwrite("\x02\0\0\0\0", 1, 5, f);
    fclose(f);
    SafeTensors st;
    Error err = { 0 };
    ck_assert_int_eq(safetensors_open(&st, path, &err), STATUS_FORMAT);
    ck_assert(strstr(err.message, path) && strstr(err.message, "5 bytes, expected at least 8"));
    ck_assert_int_eq(safetensors_open(&st, "/nonexistent/x.safetensors", &err), STATUS_IO);
    ck_assert(strstr(err.message, "/nonexistent/x.safetensors") != NULL);
    remove_tmpdir();
}
END_TEST

START_TEST(test_st_read_errors)
{
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/r.safetensors", tmpdir);
    int64_t ids[2] = { 1, 2 };
    float a[2] = { 1, 2 };
    SafeTensorsWriter wr;
    safetensors_writer_init(&wr);
    safetensors_writer_add_f32(&wr, "a", SAFE_F32, (int[]){ 2 }, 1, a);
    safetensors_writer_add(&wr, "ids", SAFE_I64, (int[]){ 2 }, 1, ids);
    Error err = { 0 };
    ck_assert_int_eq(safetensors_write(&wr, path, &err), STATUS_OK);
    safetensors_writer_free(&wr);
    SafeTensors st;
    ck_assert_int_eq(safetensors_open(&st, path, &err), STATUS_OK);
    float out[4];
    char want[256];
    ck_assert_int_eq(safetensors_read_f32(&st, "a", (int[]){ 2, 1 }, 2, out, &err), STATUS_FORMAT);
    snprintf(want, sizeof want, "%s: tensor a has shape [2], expected [2,1]", path);
    ck_assert_str_eq(err.message, want);
    ck_assert_int_eq(safetensors_read_f32(&st, "a", (int[]){ 3 }, 1, out, &err), STATUS_FORMAT);
    ck_assert(strstr(err.message, "expected [3]"));
    ck_assert_int_eq(safetensors_read_f32(&st, "b", (int[]){ 2 }, 1, out, &err), STATUS_FORMAT);
    snprintf(want, sizeof want, "%s: no tensor named b", path);
    ck_assert(strncmp(err.message, want, strlen(want)) == 0);
    ck_assert_int_eq(safetensors_read_f32(&st, "ids", (int[]){ 2 }, 1, out, &err), STATUS_FORMAT);
    ck_assert(strstr(err.message, "has dtype I64, expected a float dtype"));
    safetensors_close(&st);
    remove_tmpdir();
}
END_TEST

/* Header lengths for names of every length mod 8 stay multiples of 8 and parse back. */
START_TEST(test_st_header_padding)
{
    make_tmpdir();
    char path[128], name[32];
    snprintf(path, sizeof path, "%s/p.safetensors", tmpdir);
    float v = 7;
    for (int len = 1; len <= 16; len++) {
        memset(name, 'n', (size_t)len);
        name[len] = '\0';
        SafeTensorsWriter wr;
        safetensors_writer_init(&wr);
        safetensors_writer_add_f32(&wr, name, SAFE_F32, (int[]){ 1 }, 1, &v);
        Error err = { 0 };
        ck_assert_int_eq(safetensors_write(&wr, path, &err), STATUS_OK);   /* overwrites */
        safetensors_writer_free(&wr);
        SafeTensors st;
        ck_assert_int_eq(safetensors_open(&st, path, &err), STATUS_OK);
        ck_assert_uint_eq(st.header_len % 8, 0);
        ck_assert_uint_eq(st.file_size, 8 + st.header_len + 4);
        ck_assert_ptr_nonnull(safetensors_find(&st, name));
        safetensors_close(&st);
    }
    ck_assert_int_eq(dir_entries(tmpdir, 0), 1);   /* no temp files left behind */
    remove_tmpdir();
}
END_TEST

START_TEST(test_st_writer_failure_leaves_nothing)
{
    make_tmpdir();
    char path[160];
    float v = 1;
    SafeTensorsWriter wr;
    safetensors_writer_init(&wr);
    safetensors_writer_add_f32(&wr, "v", SAFE_F32, (int[]){ 1 }, 1, &v);
    Error err = { 0 };
    snprintf(path, sizeof path, "%s/no/such/dir/x.safetensors", tmpdir);
    ck_assert_int_eq(safetensors_write(&wr, path, &err), STATUS_IO);
    ck_assert(strstr(err.message, path) != NULL);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(dir_entries(tmpdir, 0), 0);
    /* rename fails (the target is a non-empty directory): temp removed, target untouched */
    snprintf(path, sizeof path, "%s/target", tmpdir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    char inner[200];
    snprintf(inner, sizeof inner, "%s/keep", path);
    fclose(fopen(inner, "w"));
    ck_assert_int_eq(safetensors_write(&wr, path, &err), STATUS_IO);
    ck_assert(strstr(err.message, "rename") != NULL);
    ck_assert_int_eq(dir_entries(tmpdir, 0), 1);
    ck_assert_int_eq(dir_entries(path, 0), 1);
    unlink(inner);
    rmdir(path);
    safetensors_writer_free(&wr);
    remove_tmpdir();
}
END_TEST

START_TEST(test_atomic_file)
{
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/c.json", tmpdir);
    AtomicFile af;
    Error err = { 0 };
    ck_assert_int_eq(atomic_write_begin(&af, path, &err), STATUS_OK);
    fputs("{\"old\": 1}\n", af.f);
    ck_assert_int_eq(atomic_write_commit(&af, &err), STATUS_OK);
    ck_assert_uint_eq(file_size(path), 11);
    ck_assert_int_eq(atomic_write_begin(&af, path, &err), STATUS_OK);
    fputs("{\"new\": 22222}\n", af.f);
    ck_assert_int_eq(dir_entries(tmpdir, 0), 2);              /* target + temp */
    atomic_write_abort(&af);
    ck_assert_int_eq(dir_entries(tmpdir, 0), 1);              /* temp gone */
    ck_assert_uint_eq(file_size(path), 11);                   /* old content kept */
    ck_assert_int_eq(atomic_write_begin(&af, path, &err), STATUS_OK);
    fputs("{\"new\": 22222}\n", af.f);
    ck_assert_int_eq(atomic_write_commit(&af, &err), STATUS_OK);
    ck_assert_uint_eq(file_size(path), 15);
    ck_assert_int_eq(dir_entries(tmpdir, 0), 1);
    remove_tmpdir();
}
END_TEST

Suite *safetensors_suite(void) {
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_st_roundtrip);
    tcase_add_test(tc, test_st_read_handmade);
    tcase_add_test(tc, test_st_broken_files);
    tcase_add_test(tc, test_st_read_errors);
    tcase_add_test(tc, test_st_header_padding);
    tcase_add_test(tc, test_st_writer_failure_leaves_nothing);
    tcase_add_test(tc, test_atomic_file);
    suite_add_tcase(s, tc);
    return s;
}
