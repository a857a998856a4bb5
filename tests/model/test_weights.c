/* test_weights.c - weight loading: the three golden cases, cross-format equivalence (official
 * safetensors and .pth written here in f32 and bf16), and hostile files.
 *
 * The files written here are produced by small, independent writers (safetensors JSON by
 * hand, pickles opcode by opcode as torch.save emits them, zips through libzip), and values
 * are checked against bytes read independently of the loader. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "fathom.h"
#include "model/config.h"
#include "model/model.h"
#include "model/pth.h"
#include "model/safetensors.h"
#include "model/weights.h"
#include "test_util.h"

/* ------------------------------------------------------------------ small helpers */

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void spit(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
}

typedef struct buf { uint8_t *b; size_t n, cap; } buf;

static void put(buf *o, const void *p, size_t k) {
    if (!k) return;
    if (o->n + k > o->cap) {
        o->cap = (o->n + k) * 2 + 64;
        o->b = realloc(o->b, o->cap);
    }
    memcpy(o->b + o->n, p, k);
    o->n += k;
}
static void put1(buf *o, uint8_t v) { put(o, &v, 1); }
static void put_le(buf *o, uint64_t v, int k) { for (int i = 0; i < k; i++) put1(o, (uint8_t)(v >> (8 * i))); }
static void putf(buf *o, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(o, tmp, (size_t)k);
}

/* Independent 16-bit conversions (ldexp-based, unlike the loader's bit tricks). */
static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? INFINITY : ldexpf((float)(m | 1024), e - 25);
    return (h & 0x8000) ? -v : v;
}
static uint16_t float_to_bf16(float f) { /* round to nearest even */
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}
static float bf16_to_float(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void expect_fail(fathom_status got, fathom_status want, const char *path, const char *needle) {
    const char *msg = fathom_last_error();
    printf("  [%s] %s\n", fathom_strerror(got), msg);
    assert_int_equal(got, want);
    assert_non_null(strstr(msg, path));
    if (needle) assert_non_null(strstr(msg, needle));
}

/* ------------------------------------------------------------------ official tensor list */

typedef struct ent {
    char name[112];
    int ndim;
    int64_t shape[4];
    const float *data; /* borrowed */
    int64_t numel;
} ent;

static int add_ent(ent *e, int n, const float *data, int ndim, int64_t a, int64_t b, int64_t c, int64_t d,
                   const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e[n].name, sizeof e[n].name, fmt, ap);
    va_end(ap);
    int64_t s[4] = {a, b, c, d};
    e[n].ndim = ndim;
    e[n].numel = 1;
    for (int i = 0; i < ndim; i++) {
        e[n].shape[i] = s[i];
        e[n].numel *= s[i];
    }
    e[n].data = data;
    return n + 1;
}

/* Every official tensor of w (spec 7.1), in state-dict order; unused ones point at `zeros`. */
static int official_entries(const fathom_weights *w, ent *e, const float *zeros) {
    const fathom_arch *a = &w->arch;
    int64_t D = a->embed_dim, G = a->pos_grid, F = a->features, H = a->mlp_hidden;
    int n = 0;
    n = add_ent(e, n, w->cls_token, 3, 1, 1, D, 0, "pretrained.cls_token");
    n = add_ent(e, n, w->pos_embed, 3, 1, 1 + G * G, D, 0, "pretrained.pos_embed");
    n = add_ent(e, n, zeros, 2, 1, D, 0, 0, "pretrained.mask_token");
    n = add_ent(e, n, w->patch_w, 4, D, 3, 14, 14, "pretrained.patch_embed.proj.weight");
    n = add_ent(e, n, w->patch_b, 1, D, 0, 0, 0, "pretrained.patch_embed.proj.bias");
    for (int i = 0; i < a->depth; i++) {
        const fathom_block_weights *b = &w->blocks[i];
        n = add_ent(e, n, b->norm1_w, 1, D, 0, 0, 0, "pretrained.blocks.%d.norm1.weight", i);
        n = add_ent(e, n, b->norm1_b, 1, D, 0, 0, 0, "pretrained.blocks.%d.norm1.bias", i);
        n = add_ent(e, n, b->qkv_w, 2, 3 * D, D, 0, 0, "pretrained.blocks.%d.attn.qkv.weight", i);
        n = add_ent(e, n, b->qkv_b, 1, 3 * D, 0, 0, 0, "pretrained.blocks.%d.attn.qkv.bias", i);
        n = add_ent(e, n, b->proj_w, 2, D, D, 0, 0, "pretrained.blocks.%d.attn.proj.weight", i);
        n = add_ent(e, n, b->proj_b, 1, D, 0, 0, 0, "pretrained.blocks.%d.attn.proj.bias", i);
        n = add_ent(e, n, b->ls1, 1, D, 0, 0, 0, "pretrained.blocks.%d.ls1.gamma", i);
        n = add_ent(e, n, b->norm2_w, 1, D, 0, 0, 0, "pretrained.blocks.%d.norm2.weight", i);
        n = add_ent(e, n, b->norm2_b, 1, D, 0, 0, 0, "pretrained.blocks.%d.norm2.bias", i);
        n = add_ent(e, n, b->fc1_w, 2, H, D, 0, 0, "pretrained.blocks.%d.mlp.fc1.weight", i);
        n = add_ent(e, n, b->fc1_b, 1, H, 0, 0, 0, "pretrained.blocks.%d.mlp.fc1.bias", i);
        n = add_ent(e, n, b->fc2_w, 2, D, H, 0, 0, "pretrained.blocks.%d.mlp.fc2.weight", i);
        n = add_ent(e, n, b->fc2_b, 1, D, 0, 0, 0, "pretrained.blocks.%d.mlp.fc2.bias", i);
        n = add_ent(e, n, b->ls2, 1, D, 0, 0, 0, "pretrained.blocks.%d.ls2.gamma", i);
    }
    n = add_ent(e, n, w->norm_w, 1, D, 0, 0, 0, "pretrained.norm.weight");
    n = add_ent(e, n, w->norm_b, 1, D, 0, 0, 0, "pretrained.norm.bias");
    for (int k = 0; k < 4; k++) {
        n = add_ent(e, n, w->proj_w[k], 4, a->out_ch[k], D, 1, 1, "depth_head.projects.%d.weight", k);
        n = add_ent(e, n, w->proj_b[k], 1, a->out_ch[k], 0, 0, 0, "depth_head.projects.%d.bias", k);
    }
    int64_t O0 = a->out_ch[0], O1 = a->out_ch[1], O3 = a->out_ch[3];
    n = add_ent(e, n, w->resize0_w, 4, O0, O0, 4, 4, "depth_head.resize_layers.0.weight");
    n = add_ent(e, n, w->resize0_b, 1, O0, 0, 0, 0, "depth_head.resize_layers.0.bias");
    n = add_ent(e, n, w->resize1_w, 4, O1, O1, 2, 2, "depth_head.resize_layers.1.weight");
    n = add_ent(e, n, w->resize1_b, 1, O1, 0, 0, 0, "depth_head.resize_layers.1.bias");
    n = add_ent(e, n, w->resize3_w, 4, O3, O3, 3, 3, "depth_head.resize_layers.3.weight");
    n = add_ent(e, n, w->resize3_b, 1, O3, 0, 0, 0, "depth_head.resize_layers.3.bias");
    for (int k = 0; k < 4; k++)
        n = add_ent(e, n, w->rn_w[k], 4, F, a->out_ch[k], 3, 3, "depth_head.scratch.layer%d_rn.weight", k + 1);
    for (int k = 1; k <= 4; k++) {
        const fathom_fusion_weights *f = &w->fusion[k - 1];
        const char *p = "depth_head.scratch.refinenet";
        n = add_ent(e, n, f->out_w, 4, F, F, 1, 1, "%s%d.out_conv.weight", p, k);
        n = add_ent(e, n, f->out_b, 1, F, 0, 0, 0, "%s%d.out_conv.bias", p, k);
        const float *wts[4] = {f->rcu1_c1_w, f->rcu1_c2_w, f->rcu2_c1_w, f->rcu2_c2_w};
        const float *bs[4] = {f->rcu1_c1_b, f->rcu1_c2_b, f->rcu2_c1_b, f->rcu2_c2_b};
        for (int j = 0; j < 4; j++) {
            n = add_ent(e, n, wts[j] ? wts[j] : zeros, 4, F, F, 3, 3, "%s%d.resConfUnit%d.conv%d.weight", p, k, j / 2 + 1, j % 2 + 1);
            n = add_ent(e, n, bs[j] ? bs[j] : zeros, 1, F, 0, 0, 0, "%s%d.resConfUnit%d.conv%d.bias", p, k, j / 2 + 1, j % 2 + 1);
        }
    }
    n = add_ent(e, n, w->out1_w, 4, F / 2, F, 3, 3, "depth_head.scratch.output_conv1.weight");
    n = add_ent(e, n, w->out1_b, 1, F / 2, 0, 0, 0, "depth_head.scratch.output_conv1.bias");
    n = add_ent(e, n, w->out2_w, 4, a->head_hidden, F / 2, 3, 3, "depth_head.scratch.output_conv2.0.weight");
    n = add_ent(e, n, w->out2_b, 1, a->head_hidden, 0, 0, 0, "depth_head.scratch.output_conv2.0.bias");
    n = add_ent(e, n, w->out3_w, 4, 1, a->head_hidden, 1, 1, "depth_head.scratch.output_conv2.2.weight");
    n = add_ent(e, n, w->out3_b, 1, 1, 0, 0, 0, "depth_head.scratch.output_conv2.2.bias");
    return n;
}

/* ------------------------------------------------------------------ writers */

enum { W_F32 = 0, W_BF16 = 1 };

static void put_values(buf *o, const float *v, int64_t n, int dtype) {
    if (dtype == W_F32) {
        put(o, v, (size_t)n * 4);
        return;
    }
    put(o, v, (size_t)n * 2); /* reserve, then overwrite with bf16 */
    uint8_t *d = o->b + o->n - (size_t)n * 2;
    for (int64_t i = 0; i < n; i++) {
        uint16_t b = float_to_bf16(v[i]);
        d[2 * i] = (uint8_t)b;
        d[2 * i + 1] = (uint8_t)(b >> 8);
    }
}

/* safetensors with the given names/shapes; `extra` is raw JSON added to the header. */
static buf st_build(const ent *e, int n, int dtype, const char *extra) {
    buf h = {0}, d = {0}, o = {0};
    putf(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        size_t begin = d.n;
        put_values(&d, e[i].data, e[i].numel, dtype);
        putf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", e[i].name, dtype == W_F32 ? "F32" : "BF16");
        for (int k = 0; k < e[i].ndim; k++) putf(&h, "%s%lld", k ? "," : "", (long long)e[i].shape[k]);
        putf(&h, "],\"data_offsets\":[%zu,%zu]}", begin, d.n);
    }
    if (extra) putf(&h, ",%s", extra);
    putf(&h, "}");
    while (h.n % 8) put1(&h, ' ');
    put_le(&o, h.n, 8);
    put(&o, h.b, h.n);
    if (d.n) put(&o, d.b, d.n);
    free(h.b);
    free(d.b);
    return o;
}

/* pickle opcodes as torch.save (protocol 2) writes them */
static void pk_unicode(buf *o, const char *s) { put1(o, 'X'); put_le(o, strlen(s), 4); put(o, s, strlen(s)); }
static void pk_global(buf *o, const char *mod, const char *name) { put1(o, 'c'); putf(o, "%s\n%s\n", mod, name); }
static void pk_int(buf *o, int64_t v) {
    if (v >= 0 && v < 256) { put1(o, 'K'); put1(o, (uint8_t)v); }
    else if (v >= 0 && v < 65536) { put1(o, 'M'); put_le(o, (uint64_t)v, 2); }
    else if (v >= INT32_MIN && v <= INT32_MAX) { put1(o, 'J'); put_le(o, (uint64_t)v, 4); }
    else { put1(o, 0x8a); put1(o, 8); put_le(o, (uint64_t)v, 8); }
}
static void pk_ints(buf *o, const int64_t *v, int n) {
    if (n == 0) { put1(o, ')'); return; }
    if (n > 3) put1(o, '(');
    for (int i = 0; i < n; i++) pk_int(o, v[i]);
    put1(o, n == 1 ? 0x85 : n == 2 ? 0x86 : n == 3 ? 0x87 : 't');
}

typedef struct pth_opts {
    int dtype;            /* W_F32 / W_BF16 */
    int shared;           /* all tensors in one storage, at increasing offsets */
    int wrap;             /* {"model": state_dict, "epoch": 3} */
    int bad_stride;       /* tensor 3 gets a transposed stride */
    int past_storage;     /* tensor 0's numel in the storage is one short */
    int drop_entry;       /* storage of tensor 1 left out of the zip */
    int compress;         /* deflate storages */
} pth_opts;

typedef struct zent { char name[128]; buf data; int deflate; } zent;

static void zip_write(const char *path, zent *z, int nz) {
    int err = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(za);
    for (int i = 0; i < nz; i++) {
        zip_source_t *src = zip_source_buffer(za, z[i].data.b ? z[i].data.b : (void *)"", z[i].data.n, 0);
        assert_non_null(src);
        zip_int64_t idx = zip_file_add(za, z[i].name, src, ZIP_FL_ENC_UTF_8);
        assert_true(idx >= 0);
        zip_set_file_compression(za, (zip_uint64_t)idx, z[i].deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 1); /* level 1: fast */
    }
    assert_int_equal(zip_close(za), 0);
}

/* A torch.save-style checkpoint "<prefix>/data.pkl" + "<prefix>/data/<key>" + version. */
static void pth_write(const char *path, const ent *e, int n, const pth_opts *op) {
    buf pk = {0};
    zent *z = calloc((size_t)n + 3, sizeof *z);
    int nz = 1;
    size_t esz = op->dtype == W_F32 ? 4 : 2;
    const char *stype = op->dtype == W_F32 ? "FloatStorage" : "BFloat16Storage";
    put1(&pk, 0x80); put1(&pk, 2);
    if (op->wrap) { put1(&pk, '}'); pk_unicode(&pk, "epoch"); pk_int(&pk, 3); put1(&pk, 's'); pk_unicode(&pk, "model"); }
    pk_global(&pk, "collections", "OrderedDict");
    put1(&pk, 'q'); put1(&pk, 0);
    put1(&pk, ')'); put1(&pk, 'R');
    put1(&pk, '(');
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += e[i].numel;
    int64_t offset = 0;
    buf shared = {0};
    for (int i = 0; i < n; i++) {
        pk_unicode(&pk, e[i].name);
        if (i == 0) { pk_global(&pk, "torch._utils", "_rebuild_tensor_v2"); put1(&pk, 'q'); put1(&pk, 1); }
        else { put1(&pk, 'h'); put1(&pk, 1); }
        put1(&pk, '(');
        put1(&pk, '(');
        pk_unicode(&pk, "storage");
        if (i == 0) { pk_global(&pk, "torch", stype); put1(&pk, 'r'); put_le(&pk, 2, 4); }
        else { put1(&pk, 'j'); put_le(&pk, 2, 4); }
        char key[32];
        snprintf(key, sizeof key, "%d", op->shared ? 0 : i);
        pk_unicode(&pk, key);
        pk_unicode(&pk, "cpu");
        int64_t st_numel = op->shared ? total : e[i].numel;
        if (i == 0 && op->past_storage) st_numel = e[i].numel - 1;
        pk_int(&pk, st_numel);
        put1(&pk, 't');
        put1(&pk, 'Q');
        pk_int(&pk, op->shared ? offset : 0);
        pk_ints(&pk, e[i].shape, e[i].ndim);
        int64_t stride[4], acc = 1;
        for (int d = e[i].ndim - 1; d >= 0; d--) { stride[d] = acc; acc *= e[i].shape[d]; }
        if (op->bad_stride && i == 3 && e[i].ndim >= 2) { int64_t t = stride[0]; stride[0] = stride[1]; stride[1] = t; }
        pk_ints(&pk, stride, e[i].ndim);
        put1(&pk, 0x89);
        put1(&pk, 'h'); put1(&pk, 0); put1(&pk, ')'); put1(&pk, 'R');
        put1(&pk, 't');
        put1(&pk, 'R');
        if (op->shared) {
            put_values(&shared, e[i].data, e[i].numel, op->dtype);
            offset += e[i].numel;
        } else if (!(op->drop_entry && i == 1)) {
            snprintf(z[nz].name, sizeof z[nz].name, "archive/data/%s", key);
            put_values(&z[nz].data, e[i].data, e[i].numel, op->dtype);
            z[nz].deflate = op->compress;
            nz++;
        }
    }
    put1(&pk, 'u');
    if (op->wrap) put1(&pk, 's');
    put1(&pk, '.');
    (void)esz;
    snprintf(z[0].name, sizeof z[0].name, "archive/data.pkl");
    z[0].data = pk;
    if (op->shared) {
        snprintf(z[nz].name, sizeof z[nz].name, "archive/data/0");
        z[nz].data = shared;
        z[nz].deflate = op->compress;
        nz++;
    }
    snprintf(z[nz].name, sizeof z[nz].name, "archive/version");
    putf(&z[nz].data, "3\n");
    nz++;
    zip_write(path, z, nz);
    for (int i = 0; i < nz; i++) free(z[i].data.b);
    free(z);
}

/* A .pth holding just `pickle` (for hostile pickles). */
static void pth_with_pickle(const char *path, const void *pickle, size_t n) {
    zent z[1] = {{.name = "archive/data.pkl"}};
    put(&z[0].data, pickle, n);
    zip_write(path, z, 1);
    free(z[0].data.b);
}

/* ------------------------------------------------------------------ golden cases */

static fathom_weights *load_ok(const char *path, const fathom_model_params *p) {
    fathom_weights *w = NULL;
    fathom_status s = fathom_weights_load(path, p, &w);
    if (s != FATHOM_OK) printf("load %s: %s\n", path, fathom_last_error());
    assert_int_equal(s, FATHOM_OK);
    assert_non_null(w);
    return w;
}

/* Raw float32 tensor `name` of a safetensors file, read with cJSON (not the loader). */
static float *st_raw(const uint8_t *file, const char *name, int64_t *numel) {
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | file[i];
    cJSON *root = cJSON_ParseWithLength((const char *)file + 8, hlen);
    cJSON *e = cJSON_GetObjectItemCaseSensitive(root, name);
    assert_non_null(e);
    assert_string_equal(cJSON_GetObjectItem(e, "dtype")->valuestring, "F32");
    cJSON *off = cJSON_GetObjectItem(e, "data_offsets");
    size_t b = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble, en = (size_t)cJSON_GetArrayItem(off, 1)->valuedouble;
    float *v = malloc(en - b);
    memcpy(v, file + 8 + hlen + b, en - b);
    *numel = (int64_t)((en - b) / 4);
    cJSON_Delete(root);
    return v;
}

static void expect_same(const float *got, const char *file, const uint8_t *bytes, const char *name, int64_t want_n) {
    int64_t n;
    float *raw = st_raw(bytes, name, &n);
    assert_int_equal(n, want_n);
    assert_memory_equal(got, raw, (size_t)n * 4);
    free(raw);
    (void)file;
}

static void test_tiny_hf(void **state) {
    (void)state;
    const char *dir = tu_path(tu_golden_dir(), "tiny-hf/model");
    fathom_model *m = NULL;
    assert_int_equal(fathom_model_load(dir, NULL, &m), FATHOM_OK);
    fathom_model_info info;
    fathom_model_get_info(m, &info);
    assert_string_equal(info.format, "hf-folder");
    assert_string_equal(info.arch, "custom");
    assert_string_equal(info.dtype, "f32");
    assert_int_equal(info.embed_dim, 64);
    assert_int_equal(info.depth, 4);
    assert_int_equal(info.heads, 4);
    assert_int_equal(info.mlp_hidden, 256);
    assert_int_equal(info.features, 8);
    int oc[4] = {8, 16, 32, 64}, li[4] = {0, 1, 2, 3};
    assert_memory_equal(info.out_channels, oc, sizeof oc);
    assert_memory_equal(info.layer_idx, li, sizeof li);
    assert_int_equal(info.metric, 0);
    /* unused: mask_token (64) + refinenet4.resConfUnit1 (2 x (8*8*9 + 8)) */
    assert_int_equal(info.unused_params, 64 + 2 * (8 * 8 * 9 + 8));
    const fathom_weights *w = m->w;
    assert_int_equal(w->arch.pos_grid, 37);
    assert_int_equal(w->arch.patch, 14);
    assert_int_equal(w->arch.head_hidden, 32);
    assert_true(fabsf(w->arch.ln_eps - 1e-6f) < 1e-12f);

    size_t n;
    uint8_t *bytes = slurp(tu_path(dir, "model.safetensors"), &n);
    /* total parameters = every tensor in the file */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | bytes[i];
    assert_int_equal((int64_t)((n - 8 - hlen) / 4), info.params + info.unused_params);
    const int64_t D = 64;
    /* q/k/v packed as rows [q | k | v] */
    expect_same(w->blocks[1].qkv_w, dir, bytes, "backbone.encoder.layer.1.attention.attention.query.weight", D * D);
    expect_same(w->blocks[1].qkv_w + D * D, dir, bytes, "backbone.encoder.layer.1.attention.attention.key.weight", D * D);
    expect_same(w->blocks[1].qkv_w + 2 * D * D, dir, bytes, "backbone.encoder.layer.1.attention.attention.value.weight", D * D);
    expect_same(w->blocks[3].qkv_b + 2 * D, dir, bytes, "backbone.encoder.layer.3.attention.attention.value.bias", D);
    expect_same(w->blocks[2].ls2, dir, bytes, "backbone.encoder.layer.2.layer_scale2.lambda1", D);
    /* fusion index reversal: HF layer j = refinenet 4 - j = fusion[3 - j] */
    expect_same(w->fusion[3].out_w, dir, bytes, "neck.fusion_stage.layers.0.projection.weight", 64);
    expect_same(w->fusion[0].out_w, dir, bytes, "neck.fusion_stage.layers.3.projection.weight", 64);
    expect_same(w->fusion[2].rcu1_c2_b, dir, bytes, "neck.fusion_stage.layers.1.residual_layer1.convolution2.bias", 8);
    expect_same(w->fusion[0].rcu2_c1_w, dir, bytes, "neck.fusion_stage.layers.3.residual_layer2.convolution1.weight", 8 * 8 * 9);
    assert_null(w->fusion[3].rcu1_c1_w);
    assert_null(w->fusion[3].rcu1_c2_b);
    expect_same(w->rn_w[2], dir, bytes, "neck.convs.2.weight", 8 * 32 * 9);
    expect_same(w->out3_w, dir, bytes, "head.conv3.weight", 32);
    expect_same(w->pos_embed, dir, bytes, "backbone.embeddings.position_embeddings", 1370 * D);
    free(bytes);
    fathom_model_free(&m);
    assert_null(m);
    /* forcing metric on a relative folder: its config's max_depth (HF default 1) is not taken */
    fathom_model_params p = fathom_model_default_params();
    p.metric = 1;
    fathom_weights *wm = load_ok(dir, &p);
    assert_int_equal(wm->arch.metric, 1);
    assert_true(wm->arch.max_depth == 20.0f);
    fathom_weights_free(&wm);
    fathom_model_free(NULL);
}

static void test_tiny_hf_metric(void **state) {
    (void)state;
    const char *dir = tu_path(tu_golden_dir(), "tiny-hf-metric/model");
    fathom_weights *w = load_ok(dir, NULL);
    assert_int_equal(w->arch.metric, 1);
    assert_true(w->arch.max_depth == 20.0f);
    fathom_weights_free(&w);
    /* caller overrides win over config.json */
    fathom_model_params p = fathom_model_default_params();
    assert_int_equal(p.metric, -1);
    p.metric = 0;
    w = load_ok(dir, &p);
    assert_int_equal(w->arch.metric, 0);
    fathom_weights_free(&w);
    p.metric = -1;
    p.max_depth = 80.0f;
    w = load_ok(dir, &p);
    assert_int_equal(w->arch.metric, 1);
    assert_true(w->arch.max_depth == 80.0f);
    fathom_weights_free(&w);
}

static void test_vits_pth(void **state) {
    (void)state;
    const char *path = tu_golden_file("vits-pth/model.pth");
    if (!path) skip();
    fathom_model *m = NULL;
    assert_int_equal(fathom_model_load(path, NULL, &m), FATHOM_OK);
    fathom_model_info info;
    fathom_model_get_info(m, &info);
    assert_string_equal(info.format, "pth");
    assert_string_equal(info.arch, "vits");
    assert_string_equal(info.dtype, "f16");
    assert_int_equal(info.params + info.unused_params, 24785089); /* spec section 10 */
    assert_int_equal(info.unused_params, 384 + 2 * (64 * 64 * 9 + 64));
    assert_int_equal(info.embed_dim, 384);
    assert_int_equal(info.depth, 12);
    assert_int_equal(info.heads, 6);
    assert_int_equal(info.mlp_hidden, 1536);
    assert_int_equal(info.features, 64);
    int oc[4] = {48, 96, 192, 384}, li[4] = {2, 5, 8, 11};
    assert_memory_equal(info.out_channels, oc, sizeof oc);
    assert_memory_equal(info.layer_idx, li, sizeof li);
    assert_int_equal(info.metric, 0);
    assert_true(info.max_depth == 20.0f);
    assert_int_equal(m->w->arch.pos_grid, 37);
    assert_null(m->w->fusion[3].rcu1_c1_w);

    /* pos_embed is storage '1' (526080 halves): compare with the raw zip entry */
    int err = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY, &err);
    assert_non_null(za);
    zip_file_t *zf = zip_fopen(za, "model/data/1", 0);
    assert_non_null(zf);
    size_t n = 1370 * 384;
    uint16_t *h = malloc(n * 2);
    assert_int_equal(zip_fread(zf, h, n * 2), (zip_int64_t)(n * 2));
    zip_fclose(zf);
    zip_discard(za);
    for (size_t i = 0; i < n; i++)
        if (m->w->pos_embed[i] != half_to_float(h[i])) fail_msg("pos_embed[%zu]: %g vs %g", i, m->w->pos_embed[i], half_to_float(h[i]));
    free(h);
    fathom_model_free(&m);
}

/* ------------------------------------------------------------------ cross-format equivalence */

static void compare_weights(const fathom_weights *ref, const fathom_weights *got, int bf16) {
    float *zeros = calloc(1 << 20, sizeof *zeros);
    ent *a = calloc(4096, sizeof *a), *b = calloc(4096, sizeof *b);
    int na = official_entries(ref, a, zeros), nb = official_entries(got, b, zeros);
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
        assert_string_equal(a[i].name, b[i].name);
        for (int64_t k = 0; k < a[i].numel; k++) {
            float want = bf16 ? bf16_to_float(float_to_bf16(a[i].data[k])) : a[i].data[k];
            if (b[i].data[k] != want) fail_msg("%s[%lld]: %g vs %g", a[i].name, (long long)k, b[i].data[k], want);
        }
    }
    assert_int_equal(ref->params, got->params);
    assert_int_equal(ref->unused_params, got->unused_params);
    free(a);
    free(b);
    free(zeros);
}

static void test_cross_format(void **state) {
    (void)state;
    const char *dir = tu_path(tu_golden_dir(), "tiny-hf/model");
    fathom_weights *ref = load_ok(dir, NULL);
    char *tmp = tu_mkdtemp();
    float *zeros = calloc(1 << 20, sizeof *zeros);
    ent *e = calloc(4096, sizeof *e);
    int n = official_entries(ref, e, zeros);

    /* The tiny model's head layers cannot be inferred from shapes alone, so the official-named
     * file goes into a folder beside the golden config.json. (.pth round trips: vits, below.) */
    const char *st_dir = tu_path(tmp, "official-st");
    assert_int_equal(mkdir(st_dir, 0755), 0);
    size_t cn;
    uint8_t *cfg = slurp(tu_path(dir, "config.json"), &cn);
    spit(tu_path(st_dir, "config.json"), cfg, cn);
    buf st = st_build(e, n, W_F32, NULL);
    spit(tu_path(st_dir, "model.safetensors"), st.b, st.n);
    fathom_weights *w = load_ok(st_dir, NULL);
    compare_weights(ref, w, 0);
    assert_string_equal(w->dtype, "f32");
    fathom_weights_free(&w);
    free(st.b);

    st = st_build(e, n, W_BF16, NULL);
    spit(tu_path(st_dir, "model.safetensors"), st.b, st.n);
    w = load_ok(st_dir, NULL);
    compare_weights(ref, w, 1);
    assert_string_equal(w->dtype, "bf16");
    fathom_weights_free(&w);
    free(st.b);

    free(cfg);
    free(e);
    free(zeros);
    fathom_weights_free(&ref);
    tu_rmtree(tmp);
    free(tmp);
}

/* vits: golden .pth (f16) -> written .pth (f32 / bf16, separate or shared storages, wrapped,
 * deflated) and official .safetensors: all load to the same weights. */
static void test_pth_round_trips(void **state) {
    (void)state;
    const char *pth = tu_golden_file("vits-pth/model.pth");
    if (!pth) skip();
    fathom_weights *ref = load_ok(pth, NULL);
    char *tmp = tu_mkdtemp();
    float *zeros = calloc(1 << 20, sizeof *zeros);
    ent *e = calloc(4096, sizeof *e);
    int n = official_entries(ref, e, zeros);
    struct { pth_opts op; const char *file; int bf16; } cases[] = {
        {{.dtype = W_F32}, "f32.pth", 0},
        {{.dtype = W_BF16}, "bf16.pth", 1},
        {{.dtype = W_F32, .shared = 1}, "shared.pth", 0},
        {{.dtype = W_BF16, .shared = 1, .wrap = 1}, "wrapped.pth", 1},
        {{.dtype = W_F32, .compress = 1}, "deflate.pth", 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *p = tu_path(tmp, cases[c].file);
        pth_write(p, e, n, &cases[c].op);
        fathom_weights *w = load_ok(p, NULL);
        printf("  %s: %s %s\n", cases[c].file, w->format, w->dtype);
        assert_string_equal(w->format, "pth");
        assert_string_equal(w->arch.name, "vits");
        compare_weights(ref, w, cases[c].bf16);
        fathom_weights_free(&w);
        /* the same bytes from memory */
        size_t sz;
        uint8_t *b = slurp(p, &sz);
        assert_int_equal(fathom_weights_load_memory(b, sz, p, NULL, &w), FATHOM_OK);
        compare_weights(ref, w, cases[c].bf16);
        fathom_weights_free(&w);
        free(b);
    }
    /* official-named single safetensors: vits is inferred from shapes */
    buf st = st_build(e, n, W_F32, NULL);
    const char *sp = tu_path(tmp, "vits.safetensors");
    spit(sp, st.b, st.n);
    fathom_weights *w = load_ok(sp, NULL);
    assert_string_equal(w->format, "safetensors");
    assert_string_equal(w->arch.name, "vits");
    compare_weights(ref, w, 0);
    fathom_weights_free(&w);
    /* metric override for a file without config */
    fathom_model_params prm = fathom_model_default_params();
    prm.metric = 1;
    w = load_ok(sp, &prm);
    assert_int_equal(w->arch.metric, 1);
    assert_true(w->arch.max_depth == 20.0f);
    fathom_weights_free(&w);
    free(st.b);
    free(e);
    free(zeros);
    fathom_weights_free(&ref);
    tu_rmtree(tmp);
    free(tmp);
}

/* The fuzz seeds were written by tests/tools/make_weights_seeds.py: .pth pickles by Python's
 * own pickler, HF names by an independent Python mapping. Official .pth and HF safetensors of
 * the same values must load identically. */
static fathom_weights *load_seed(const char *rel) {
    const char *src = getenv("FATHOM_SRC");
    assert_non_null(src);
    const char *path = tu_path(tu_path(src, "tests/fuzz/corpus"), rel);
    fathom_config cfg = {.has_heads = 1, .heads = 2, .has_out_indices = 1, .out_indices = {0, 1, 2, 3}};
    fathom_tensor_set set;
    fathom_status s = strstr(rel, ".pth") ? fathom_pth_open_file(path, &set) : fathom_st_open_file(path, &set);
    if (s != FATHOM_OK) fail_msg("%s", fathom_last_error());
    fathom_weights *w = NULL;
    s = fathom_weights_map(&set, &cfg, NULL, &w);
    fathom_tensor_set_close(&set);
    if (s != FATHOM_OK) fail_msg("%s", fathom_last_error());
    return w;
}

static void test_python_written(void **state) {
    (void)state;
    fathom_weights *a = load_seed("pth/micro_f16.pth");
    fathom_weights *b = load_seed("safetensors/micro_hf_f16.safetensors");
    assert_string_equal(a->dtype, "f16");
    assert_int_equal(a->arch.embed_dim, 8);
    assert_int_equal(a->arch.pos_grid, 2);
    compare_weights(a, b, 0);
    fathom_weights_free(&b);
    b = load_seed("pth/micro_bf16_shared_wrapped.pth");
    fathom_weights *c = load_seed("safetensors/micro_hf_bf16.safetensors");
    assert_string_equal(b->dtype, "bf16");
    compare_weights(b, c, 0);
    /* f16 and bf16 copies of the same float32 values agree to bf16 precision */
    ent *ea = calloc(4096, sizeof *ea), *eb = calloc(4096, sizeof *eb);
    float *zeros = calloc(1 << 16, sizeof *zeros);
    int n = official_entries(a, ea, zeros);
    assert_int_equal(official_entries(b, eb, zeros), n);
    for (int i = 0; i < n; i++)
        for (int64_t k = 0; k < ea[i].numel; k++)
            assert_true(fabsf(ea[i].data[k] - eb[i].data[k]) <= 1e-2f * fabsf(ea[i].data[k]) + 1e-6f);
    free(ea);
    free(eb);
    free(zeros);
    fathom_weights_free(&a);
    fathom_weights_free(&b);
    fathom_weights_free(&c);
}

/* ------------------------------------------------------------------ hostile files */

typedef struct hostile_ctx {
    char *tmp;
    fathom_weights *ref; /* the golden tiny model: small files, quick tests */
    float *zeros;
    ent *e;
    int n;
    uint8_t *cfg;        /* its config.json */
    size_t cfg_n;
} hostile_ctx;

static int hostile_setup(void **state) {
    hostile_ctx *h = calloc(1, sizeof *h);
    const char *dir = tu_path(tu_golden_dir(), "tiny-hf/model");
    h->ref = load_ok(dir, NULL);
    h->cfg = slurp(tu_path(dir, "config.json"), &h->cfg_n);
    h->tmp = tu_mkdtemp();
    h->zeros = calloc(1 << 20, sizeof *h->zeros);
    h->e = calloc(4096, sizeof *h->e);
    h->n = official_entries(h->ref, h->e, h->zeros);
    *state = h;
    return 0;
}

static int hostile_teardown(void **state) {
    hostile_ctx *h = *state;
    tu_rmtree(h->tmp);
    free(h->tmp);
    free(h->zeros);
    free(h->e);
    free(h->cfg);
    fathom_weights_free(&h->ref);
    free(h);
    return 0;
}

static int find_ent(const ent *e, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0) return i;
    fail_msg("no entry %s", name);
    return -1;
}

/* Write entries as <tmp>/tiny/model.safetensors beside the golden config.json; returns the folder. */
static const char *tiny_folder(hostile_ctx *h, const ent *e, int n, const char **file) {
    const char *dir = tu_path(h->tmp, "tiny");
    mkdir(dir, 0755);
    spit(tu_path(dir, "config.json"), h->cfg, h->cfg_n);
    buf b = st_build(e, n, W_F32, NULL);
    *file = tu_path(dir, "model.safetensors");
    spit(*file, b.b, b.n);
    free(b.b);
    return dir;
}

static fathom_status try_load(const char *path) {
    fathom_weights *w = (fathom_weights *)1;
    fathom_status s = fathom_weights_load(path, NULL, &w);
    if (s == FATHOM_OK) fathom_weights_free(&w);
    else assert_null(w);
    return s;
}

static void write_st_raw(const char *path, const char *json, const void *data, size_t dn) {
    buf o = {0};
    put_le(&o, strlen(json), 8);
    put(&o, json, strlen(json));
    if (dn) put(&o, data, dn);
    spit(path, o.b, o.n);
    free(o.b);
}

static void test_hostile_safetensors(void **state) {
    hostile_ctx *h = *state;
    const char *p = tu_path(h->tmp, "bad.safetensors");
    float data[16] = {0};
    buf good = st_build(h->e, h->n, W_F32, NULL);

    /* truncated: header cut, then data cut */
    spit(p, good.b, 100);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "truncated");
    spit(p, good.b, good.n - 1000);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "past the end");
    /* header length over the 100 MB limit */
    buf big = {0};
    put_le(&big, (uint64_t)200 << 20, 8);
    putf(&big, "{\"a\":1}");
    spit(p, big.b, big.n);
    free(big.b);
    expect_fail(try_load(p), FATHOM_ERR_TOO_LARGE, p, NULL);
    /* not JSON */
    write_st_raw(p, "{\"a\": [1, 2", NULL, 0);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "JSON");
    /* offsets past the end / reversed / overlapping */
    write_st_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                    "\"y\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[60,76]}}", data, 64);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "'y'");
    write_st_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", data, 64);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "begin <= end");
    write_st_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                    "\"y\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", data, 64);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "overlap");
    /* size does not match dtype x shape */
    write_st_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,16]}}", data, 64);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "'x'");
    /* absurd sizes and dims */
    write_st_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,16]}}", data, 64);
    expect_fail(try_load(p), FATHOM_ERR_TOO_LARGE, p, "overflow");
    write_st_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", data, 64);
    expect_fail(try_load(p), FATHOM_ERR_UNSUPPORTED, p, "dims");
    write_st_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", data, 64);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "shape");
    write_st_raw(p, "{\"x\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, 64);
    expect_fail(try_load(p), FATHOM_ERR_UNSUPPORTED, p, "dtype");
    /* not a model */
    write_st_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", data, 64);
    expect_fail(try_load(p), FATHOM_ERR_NOT_FOUND, p, "blocks");

    /* model-level: unknown, missing, wrong shape, wrong dtype -- the first problem is named */
    ent *e = calloc(4096, sizeof *e);
    int n = h->n;
    const char *dir, *file;
    memcpy(e, h->e, (size_t)n * sizeof *e);
    snprintf(e[7].name, sizeof e[7].name, "pretrained.blocks.0.attn.qkv.weigth");
    dir = tiny_folder(h, e, n, &file);
    expect_fail(try_load(dir), FATHOM_ERR_FORMAT, file, "'pretrained.blocks.0.attn.qkv.weigth'");
    memcpy(e, h->e, (size_t)n * sizeof *e);
    e[find_ent(e, n, "pretrained.blocks.0.attn.proj.weight")] = e[n - 1]; /* drop it */
    dir = tiny_folder(h, e, n - 1, &file);
    expect_fail(try_load(dir), FATHOM_ERR_NOT_FOUND, file, "'pretrained.blocks.0.attn.proj.weight'");
    memcpy(e, h->e, (size_t)n * sizeof *e);
    e[1].shape[2] = 63; /* pos_embed narrower than cls_token */
    e[1].numel = 1370 * 63;
    dir = tiny_folder(h, e, n, &file);
    expect_fail(try_load(dir), FATHOM_ERR_SHAPE, file, "expected (1, 1370, 64)");
    memcpy(e, h->e, (size_t)n * sizeof *e);
    int k = find_ent(e, n, "pretrained.blocks.2.mlp.fc1.weight");
    e[k].shape[0] = 255;
    e[k].numel = 255 * 64;
    dir = tiny_folder(h, e, n, &file);
    expect_fail(try_load(dir), FATHOM_ERR_SHAPE, file,
                "'pretrained.blocks.2.mlp.fc1.weight' has shape (255, 64), expected (256, 64)");
    /* duplicate tensor (HF name for an official one already present) */
    memcpy(e, h->e, (size_t)n * sizeof *e);
    e[n] = e[0];
    snprintf(e[n].name, sizeof e[n].name, "backbone.embeddings.cls_token");
    dir = tiny_folder(h, e, n + 1, &file);
    expect_fail(try_load(dir), FATHOM_ERR_FORMAT, file, "more than once");
    /* HF file missing one of q/k/v */
    const char *gold = tu_path(tu_golden_dir(), "tiny-hf/model/model.safetensors");
    size_t gn;
    uint8_t *gb = slurp(gold, &gn);
    char *q = memmem(gb, gn, "backbone.encoder.layer.3.attention.attention.key.bias", 53);
    assert_non_null(q);
    memcpy(q + 45, "kex", 3);
    dir = tu_path(h->tmp, "tiny");
    file = tu_path(dir, "model.safetensors");
    spit(file, gb, gn);
    expect_fail(try_load(dir), FATHOM_ERR_FORMAT, file, "'backbone.encoder.layer.3.attention.attention.kex.bias'");
    memcpy(q + 45, "key", 3);
    q = memmem(gb, gn, "\"neck.convs.1.weight\":{\"dtype\":\"F32\"", 36);
    assert_non_null(q);
    memcpy(q + 32, "I32", 3);
    spit(file, gb, gn);
    expect_fail(try_load(dir), FATHOM_ERR_UNSUPPORTED, file, "'neck.convs.1.weight' has dtype I32");
    free(gb);
    free(e);
    free(good.b);
}

/* A copy of a safetensors image without tensor `name` (its bytes stay, unreferenced). */
static buf st_drop(const uint8_t *file, size_t n, const char *name) {
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | file[i];
    cJSON *root = cJSON_ParseWithLength((const char *)file + 8, hlen);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(root, name));
    cJSON_DeleteItemFromObjectCaseSensitive(root, name);
    char *h = cJSON_PrintUnformatted(root);
    buf o = {0};
    put_le(&o, strlen(h), 8);
    put(&o, h, strlen(h));
    put(&o, file + 8 + hlen, n - 8 - hlen);
    free(h);
    cJSON_Delete(root);
    return o;
}

static void test_hf_missing(void **state) {
    hostile_ctx *h = *state;
    size_t gn;
    uint8_t *gb = slurp(tu_path(tu_golden_dir(), "tiny-hf/model/model.safetensors"), &gn);
    const char *dir = tu_path(h->tmp, "hfmissing");
    mkdir(dir, 0755);
    spit(tu_path(dir, "config.json"), h->cfg, h->cfg_n);
    const char *file = tu_path(dir, "model.safetensors");
    static const char *const drop[] = {
        "backbone.encoder.layer.3.attention.attention.key.bias",
        "backbone.encoder.layer.0.attention.attention.query.weight",
        "neck.fusion_stage.layers.1.residual_layer2.convolution1.weight",
        "neck.convs.3.weight",
        "backbone.encoder.layer.2.layer_scale1.lambda1",
        "head.conv2.bias",
    };
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) {
        buf b = st_drop(gb, gn, drop[i]);
        spit(file, b.b, b.n);
        free(b.b);
        char want[160];
        snprintf(want, sizeof want, "missing tensor '%s'", drop[i]);
        expect_fail(try_load(dir), FATHOM_ERR_NOT_FOUND, file, want);
    }
    /* unused tensors may be absent: nothing reads them */
    buf b = st_drop(gb, gn, "backbone.embeddings.mask_token");
    spit(file, b.b, b.n);
    free(b.b);
    fathom_weights *w = load_ok(dir, NULL);
    assert_int_equal(w->unused_params, 2 * (8 * 8 * 9 + 8));
    fathom_weights_free(&w);
    free(gb);
}

/* vitg-style SwiGLU blocks (mlp.w12 / mlp.w3, HF weights_in / weights_out) on the tiny model:
 * hidden = ((int(64 * 4 * 2/3) + 7) // 8) * 8 = 176. */
static void test_swiglu(void **state) {
    hostile_ctx *h = *state;
    ent *e = calloc(4096, sizeof *e);
    int n = 0;
    float *vals = malloc(352 * 64 * sizeof *vals);
    tu_fill_random(vals, 352 * 64, 5, 1.0f);
    for (int i = 0; i < h->n; i++) {
        e[n] = h->e[i];
        char *mlp = strstr(e[n].name, ".mlp.fc");
        if (mlp) {
            int fc = mlp[7] - '0', weight = strstr(mlp, "weight") != NULL;
            snprintf(mlp, sizeof e[n].name - (size_t)(mlp - e[n].name), ".mlp.%s.%s", fc == 1 ? "w12" : "w3",
                     weight ? "weight" : "bias");
            e[n].data = vals;
            if (fc == 1) e[n].shape[0] = 352;
            else if (weight) e[n].shape[1] = 176;
            e[n].numel = e[n].shape[0] * (e[n].ndim == 2 ? e[n].shape[1] : 1);
        }
        n++;
    }
    const char *dir = tu_path(h->tmp, "swiglu");
    mkdir(dir, 0755);
    char *txt = strndup((const char *)h->cfg, h->cfg_n);
    char *at = strstr(txt, "\"use_swiglu_ffn\": false");
    assert_non_null(at);
    memcpy(at + strlen("\"use_swiglu_ffn\": "), "true ", 5);
    spit(tu_path(dir, "config.json"), txt, strlen(txt));
    free(txt);
    buf b = st_build(e, n, W_F32, NULL);
    spit(tu_path(dir, "model.safetensors"), b.b, b.n);
    free(b.b);
    fathom_weights *w = load_ok(dir, NULL);
    assert_int_equal(w->arch.swiglu, 1);
    assert_int_equal(w->arch.mlp_hidden, 176);
    assert_memory_equal(w->blocks[3].fc1_w, vals, 352 * 64 * sizeof *vals);
    assert_memory_equal(w->blocks[3].fc2_w, vals, 64 * 176 * sizeof *vals);
    fathom_weights_free(&w);
    /* the same tensors under HF names, without config: SwiGLU inferred from w12 */
    for (int i = 0; i < n; i++) {
        char *m = strstr(e[i].name, ".mlp.w");
        if (!m) continue;
        int blk = atoi(e[i].name + strlen("pretrained.blocks."));
        int w12 = m[6] == '1';
        char tail[16];
        snprintf(tail, sizeof tail, "%s", strrchr(e[i].name, '.') + 1);
        snprintf(e[i].name, sizeof e[i].name, "backbone.encoder.layer.%d.mlp.%s.%s", blk,
                 w12 ? "weights_in" : "weights_out", tail);
    }
    b = st_build(e, n, W_F32, NULL);
    spit(tu_path(dir, "model.safetensors"), b.b, b.n);
    free(b.b);
    const char *cfg = "{\"backbone_config\": {\"num_attention_heads\": 4, \"out_indices\": [1, 2, 3, 4]}}";
    spit(tu_path(dir, "config.json"), cfg, strlen(cfg));
    w = load_ok(dir, NULL);
    assert_int_equal(w->arch.swiglu, 1);
    assert_int_equal(w->arch.mlp_hidden, 176);
    assert_memory_equal(w->blocks[0].fc2_w, vals, 64 * 176 * sizeof *vals);
    fathom_weights_free(&w);
    free(vals);
    free(e);
}

static void test_hostile_pth(void **state) {
    hostile_ctx *h = *state; /* storage checks run in the reader, before the architecture */
    const char *p = tu_path(h->tmp, "bad.pth");
    const char *g = tu_path(h->tmp, "good.pth");
    pth_opts op = {.dtype = W_F32};
    pth_write(g, h->e, h->n, &op);
    size_t n;
    uint8_t *good = slurp(g, &n);

    /* truncated zip */
    spit(p, good, n / 2);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "zip");
    /* storage problems */
    op.bad_stride = 1;
    pth_write(p, h->e, h->n, &op);
    expect_fail(try_load(p), FATHOM_ERR_UNSUPPORTED, p, "not contiguous");
    op = (pth_opts){.dtype = W_F32, .past_storage = 1};
    pth_write(p, h->e, h->n, &op);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "past the end of storage");
    op = (pth_opts){.dtype = W_F32, .drop_entry = 1};
    pth_write(p, h->e, h->n, &op);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "'archive/data/1' is missing");
    /* a storage entry shorter than its declared numel: patch the pickle's numel for tensor 0 */
    /* hostile pickles */
    static const struct { const char *what; const char *bytes; size_t n; const char *needle; } pk[] = {
        {"unknown opcode", "\x80\x02\xff.", 4, "opcode 0xff"},
        {"stack underflow", "\x80\x02R.", 4, "underflow"},
        {"memo out of range", "\x80\x02h\x07.", 5, "memo"},
        {"truncated", "\x80\x02X\xff\xff\x00\x00" "ab", 9, "truncated"},
        {"no state dict", "\x80\x02}.", 4, "no state dict"},
        {"tuple without mark", "\x80\x02K\x01t.", 6, "MARK"},
        {"empty", "", 0, "truncated"},
    };
    for (size_t i = 0; i < sizeof pk / sizeof pk[0]; i++) {
        printf(" %s:\n", pk[i].what);
        pth_with_pickle(p, pk[i].bytes, pk[i].n);
        expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, pk[i].needle);
    }
    /* deep nesting: a million MARKs / a million nested lists never recurse */
    size_t deep = 3u << 20;
    uint8_t *d = malloc(deep);
    d[0] = 0x80;
    d[1] = 2;
    memset(d + 2, '(', deep - 3);
    d[deep - 1] = '.';
    pth_with_pickle(p, d, deep);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "MARK");
    memset(d + 2, ']', deep - 3);
    pth_with_pickle(p, d, deep);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "overflow");
    free(d);
    /* no data.pkl */
    zent z[1] = {{.name = "archive/other"}};
    put(&z[0].data, "x", 1);
    zip_write(p, z, 1);
    free(z[0].data.b);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "data.pkl");
    free(good);
}

/* A deflated storage whose header claims far more than deflate can produce. */
static void test_zip_bomb(void **state) {
    hostile_ctx *h = *state;
    const char *p = tu_path(h->tmp, "bomb.pth");
    pth_opts op = {.dtype = W_F32, .compress = 1};
    pth_write(p, h->e, h->n, &op);
    size_t n;
    uint8_t *b = slurp(p, &n);
    /* set the uncompressed size of "archive/data/1" to 3 GB in both headers */
    const char *name = "archive/data/1";
    size_t nl = strlen(name);
    int patched = 0;
    for (size_t i = 0; i + 46 + nl <= n; i++) {
        uint32_t sig = b[i] | b[i + 1] << 8 | b[i + 2] << 16 | (uint32_t)b[i + 3] << 24;
        if (sig == 0x04034b50 && b[i + 26] == nl && memcmp(b + i + 30, name, nl) == 0) {
            b[i + 22] = 0; b[i + 23] = 0; b[i + 24] = 0; b[i + 25] = 0xb0; patched++;
        }
        if (sig == 0x02014b50 && b[i + 28] == nl && memcmp(b + i + 46, name, nl) == 0) {
            b[i + 24] = 0; b[i + 25] = 0; b[i + 26] = 0; b[i + 27] = 0xb0; patched++;
        }
    }
    assert_int_equal(patched, 2);
    spit(p, b, n);
    free(b);
    expect_fail(try_load(p), FATHOM_ERR_FORMAT, p, "zip bomb");
}

static void test_paths(void **state) {
    hostile_ctx *h = *state;
    expect_fail(try_load("/dev/null"), FATHOM_ERR_FORMAT, "/dev/null", "regular");
    const char *p = tu_path(h->tmp, "missing.pth");
    expect_fail(try_load(p), FATHOM_ERR_NOT_FOUND, p, NULL);
    const char *dir = tu_path(h->tmp, "emptydir");
    assert_int_equal(mkdir(dir, 0755), 0);
    expect_fail(try_load(dir), FATHOM_ERR_NOT_FOUND, dir, "model.safetensors");
    const char *cfgdir = tu_path(h->tmp, "badcfg");
    assert_int_equal(mkdir(cfgdir, 0755), 0);
    buf st = st_build(h->e, h->n, W_F32, NULL);
    spit(tu_path(cfgdir, "model.safetensors"), st.b, st.n);
    free(st.b);
    const char *cfg = tu_path(cfgdir, "config.json");
    spit(cfg, "{\"backbone_config\": {\"hidden_size\": \"big\"}}", 43);
    expect_fail(try_load(cfgdir), FATHOM_ERR_FORMAT, cfg, "hidden_size");
    /* a config that disagrees with the tensors: the first mismatching tensor is named */
    char *txt = strndup((const char *)h->cfg, h->cfg_n);
    char *at = strstr(txt, "\"fusion_hidden_size\": 8");
    assert_non_null(at);
    at[strlen("\"fusion_hidden_size\": ")] = '6';
    spit(cfg, txt, h->cfg_n);
    free(txt);
    expect_fail(try_load(cfgdir), FATHOM_ERR_SHAPE, "model.safetensors", "depth_head.scratch.layer1_rn.weight");
    const char *empty = tu_path(h->tmp, "empty.safetensors");
    spit(empty, "", 0);
    expect_fail(try_load(empty), FATHOM_ERR_FORMAT, empty, "neither");
}

int main(void) {
    const struct CMUnitTest golden[] = {
        cmocka_unit_test(test_tiny_hf),
        cmocka_unit_test(test_tiny_hf_metric),
        cmocka_unit_test(test_vits_pth),
        cmocka_unit_test(test_cross_format),
        cmocka_unit_test(test_pth_round_trips),
        cmocka_unit_test(test_python_written),
    };
    const struct CMUnitTest hostile[] = {
        cmocka_unit_test(test_hostile_safetensors),
        cmocka_unit_test(test_hostile_pth),
        cmocka_unit_test(test_hf_missing),
        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_zip_bomb),
        cmocka_unit_test(test_paths),
    };
    int fails = cmocka_run_group_tests_name("weights.golden", golden, NULL, NULL);
    fails += cmocka_run_group_tests_name("weights.hostile", hostile, hostile_setup, hostile_teardown);
    return fails ? 1 : 0;
}
