/* weights.h - the internal, format-independent layout of Depth Anything V2 weights.
 *
 * Readers (safetensors.c, pth.c) produce raw named tensors; weights_map.c maps official or HF
 * names onto this struct (splitting nothing: HF q/k/v are packed into qkv, HF fusion indices
 * reversed), checks every name, dtype and shape, and converts to float32. Names of fields
 * follow the official code (../shared/spec/depth-anything-v2.md section 7.1).
 *
 * Ownership: fathom_weights owns one arena holding every tensor (llm.c style); all float*
 * fields below point into it. Layouts are exactly PyTorch's:
 *   Linear (out, in); Conv2d (Cout, Cin, k, k); ConvTranspose2d (Cin, Cout, k, k). */
#ifndef FATHOM_MODEL_WEIGHTS_H
#define FATHOM_MODEL_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "fathom.h"

typedef struct fathom_arch {
    char name[16];       /* "vits", "vitb", "vitl", "vitg", "custom" */
    int embed_dim;       /* D */
    int depth;           /* number of blocks */
    int heads;           /* D / heads = head dim (64 for released models) */
    int mlp_hidden;      /* 4D (GELU MLP) or SwiGLU hidden (vitg: 4096) */
    int swiglu;          /* 1 for vitg */
    int patch;           /* 14 */
    int pos_grid;        /* 37: the pos-embed table is 1 + pos_grid^2 rows */
    int layer_idx[4];    /* 0-based blocks feeding the head */
    int features;        /* DPT F */
    int out_ch[4];       /* DPT O1..O4 */
    int head_hidden;     /* 32 */
    int metric;          /* 1: sigmoid * max_depth; 0: ReLU */
    float max_depth;
    float ln_eps;        /* 1e-6 */
} fathom_arch;

typedef struct fathom_block_weights {
    float *norm1_w, *norm1_b;    /* (D) */
    float *qkv_w, *qkv_b;        /* (3D, D), (3D): rows [q | k | v], head-major inside */
    float *proj_w, *proj_b;      /* (D, D), (D) */
    float *ls1;                  /* (D) */
    float *norm2_w, *norm2_b;    /* (D) */
    float *fc1_w, *fc1_b;        /* (Hm, D), (Hm)   vitg: w12 (2Hs, D) */
    float *fc2_w, *fc2_b;        /* (D, Hm), (D)    vitg: w3 (D, Hs) */
    float *ls2;                  /* (D) */
} fathom_block_weights;

typedef struct fathom_fusion_weights {   /* official refinenet{k}, k = index + 1 */
    float *out_w, *out_b;                /* (F, F, 1, 1), (F) */
    float *rcu1_c1_w, *rcu1_c1_b;        /* (F, F, 3, 3), (F); NULL for refinenet4 (unused) */
    float *rcu1_c2_w, *rcu1_c2_b;
    float *rcu2_c1_w, *rcu2_c1_b;
    float *rcu2_c2_w, *rcu2_c2_b;
} fathom_fusion_weights;

typedef struct fathom_weights {
    fathom_arch arch;
    /* encoder */
    float *cls_token;            /* (D) */
    float *pos_embed;            /* (1 + G*G, D) */
    float *patch_w, *patch_b;    /* (D, 3, 14, 14), (D) */
    fathom_block_weights *blocks;/* (depth) owned array */
    float *norm_w, *norm_b;      /* (D) final LayerNorm, applied to every taken layer */
    /* DPT head */
    float *proj_w[4], *proj_b[4];/* (O_k, D, 1, 1), (O_k) */
    float *resize0_w, *resize0_b;/* ConvTranspose (O1, O1, 4, 4), (O1) */
    float *resize1_w, *resize1_b;/* ConvTranspose (O2, O2, 2, 2), (O2) */
    float *resize3_w, *resize3_b;/* Conv (O4, O4, 3, 3) stride 2 pad 1, (O4) */
    float *rn_w[4];              /* (F, O_k, 3, 3), no bias */
    fathom_fusion_weights fusion[4]; /* fusion[k-1] = refinenet{k} */
    float *out1_w, *out1_b;      /* output_conv1   (F/2, F, 3, 3) */
    float *out2_w, *out2_b;      /* output_conv2.0 (32, F/2, 3, 3) */
    float *out3_w, *out3_b;      /* output_conv2.2 (1, 32, 1, 1) */

    /* provenance, for `fathom info` */
    char format[24];             /* "pth", "safetensors", "hf-folder" */
    char dtype[8];               /* "f32", "f16", "bf16", "mixed" */
    int64_t params;              /* used parameters */
    int64_t unused_params;       /* accepted, unused tensors */

    void *arena;                 /* owned: every float* above points in here */
    size_t arena_bytes;
    /* Bytes of the arena given back to the OS (fathom_weights_release) by weights without a
     * share: the tensors there read as zeros; only the engine holding their packed copies may
     * use these weights. With a share, fathom_packed_share_released() counts them instead
     * (engines made on other threads copy this struct while a release runs). */
    size_t released_bytes;
    /* The packed weight sets the engines of these weights share (weights_release.c): owned
     * by the weights the loader made and freed with them; copies of this struct (an engine's
     * view) borrow it. NULL for weights made by hand: each engine then packs its own. */
    struct fathom_packed_share *share;
    /* The slot table: the address of every tensor field above (in this struct or in
     * blocks[]) that points into the arena, one per tensor the mapper filled. Moving the
     * weights (fathom_weights_rebase) goes through it, so no field is listed twice. */
    float ***fields;             /* owned, n_fields entries */
    size_t n_fields;
    /* Each field's official name and shape, parallel to fields (what `fathom quantize`
     * writes); owned by the weights the mapper made, borrowed by copies; NULL otherwise. */
    struct fathom_field_info *info;
} fathom_weights;

/* ---- reader interface (safetensors.c, pth.c -> weights_map.c) ---- */

typedef enum fathom_dtype { FATHOM_DT_F32, FATHOM_DT_F16, FATHOM_DT_BF16, FATHOM_DT_OTHER } fathom_dtype;

/* One named tensor as a file stores it, before mapping. */
typedef struct fathom_raw_tensor {
    const char *name;        /* borrowed from the reader */
    fathom_dtype dtype;
    char dtype_name[24];     /* as the file spells it ("F64", "LongStorage"), for messages */
    int ndim;                /* <= 8 */
    int64_t shape[8];
    int64_t numel;           /* product of shape, checked against overflow */
    const uint8_t *data;     /* borrowed: the bytes in memory (safetensors), or NULL: use read() */
    int64_t src_index;       /* reader-private (pth: tensor index) */
} fathom_raw_tensor;

/* What a reader produces: a table of tensors plus, for readers that do not hold the bytes in
 * memory, a read() that copies numel * dtype size bytes of one tensor into dst. */
typedef struct fathom_tensor_set {
    fathom_raw_tensor *t;    /* owned array of n */
    size_t n;
    char path[4096];         /* file name for messages */
    char format[24];         /* "pth", "safetensors" */
    fathom_status (*read)(struct fathom_tensor_set *s, const fathom_raw_tensor *t, void *dst);
    void (*close)(struct fathom_tensor_set *s); /* frees impl; called by fathom_tensor_set_close */
    void *impl;              /* owned by the reader */
} fathom_tensor_set;

/* Bytes per element of a readable dtype (0 for FATHOM_DT_OTHER). */
size_t fathom_dtype_size(fathom_dtype dt);
/* Frees t and the reader's state; accepts a zeroed set. */
void fathom_tensor_set_close(fathom_tensor_set *s);

/* Architecture from config.json (src/model/config.c); every has_* says the key was present. */
typedef struct fathom_config fathom_config;

/* Map a tensor set (official or HF names) onto fathom_weights: infer the architecture from the
 * shapes, override it with cfg (may be NULL) and params (may be NULL), check every tensor,
 * convert to float32 into one arena. */
fathom_status fathom_weights_map(fathom_tensor_set *set, const fathom_config *cfg,
                                 const fathom_model_params *params, fathom_weights **out);

/* Load from a .pth or .safetensors image already in memory (format detected from the bytes;
 * `name` is used in messages). buf must stay valid during the call only. */
fathom_status fathom_weights_load_memory(const void *buf, size_t size, const char *name,
                                         const fathom_model_params *params, fathom_weights **out);

/* Load from a .pth, a .safetensors file or a Hugging Face folder. `params` may be NULL.
 * On success *out is owned by the caller. Errors name the file and the first bad tensor. */
fathom_status fathom_weights_load(const char *path, const fathom_model_params *params,
                                  fathom_weights **out);
void fathom_weights_free(fathom_weights **w);

/* Give the pages of n tensors (src[i], floats[i] floats each, all in w's arena) back to the
 * OS: the engines hold packed copies of them and no longer read them (weights_release.c).
 * The arena stays allocated (its address range is the engines' lookup key); the pages
 * read as zeros afterwards. Adds to w->released_bytes, or with a share to the share's count
 * (fathom_packed_share_released); then only the first call
 * releases, and only while the share holds one packed set (with two formats, each may read
 * fp32 tensors the other packed). */
fathom_status fathom_weights_release(fathom_weights *w, const float *const *src, const size_t *floats,
                                     size_t n);
/* The fp32 bytes of w given back so far (its share's count when it has one). */
size_t fathom_weights_released(const fathom_weights *w);

/* The packed sets of one model's weights, one per key (a backend's format and kernels), that
 * all its engines of that key share: made once, read-only afterwards, freed with the model. */
typedef struct fathom_packed_share fathom_packed_share;
fathom_packed_share *fathom_packed_share_new(void); /* NULL when out of memory */
/* Frees every set (destroy); engines holding one must be gone. Accepts NULL. */
void fathom_packed_share_free(fathom_packed_share **s);
typedef fathom_status (*fathom_packed_build_fn)(void *arg, void **set);
/* *set = the set stored under key (one of `format`, a fathom_packed_kind), made by
 * build(arg, set) the first time, under the share's lock (engines made at once wait for one
 * build); adds a reference, fathom_packed_share_put drops it. The share owns what build made
 * (destroy frees it). FATHOM_ERR_INVALID_ARG when there is no set under key and fp32 weights
 * were released, unless they came packed in this format from a file (a build would read
 * zeros). */
fathom_status fathom_packed_share_get(fathom_packed_share *s, int key, int format, fathom_packed_build_fn build,
                                      void *arg, void (*destroy)(void *), void **set);
void fathom_packed_share_put(fathom_packed_share *s, const void *set);
/* Bytes of fp32 weights given back (0: none; engines may pack from the fp32 weights) */
size_t fathom_packed_share_released(fathom_packed_share *s);

/* Official name and shape of a weight field (fathom_weights.info) */
typedef struct fathom_field_info {
    char name[112];
    int ndim;
    int64_t shape[4];
} fathom_field_info;

/* The packed formats a file can hold (quant_io*.c); a CPU set of that kind reads the arrays
 * in its own layout (cpu_bf16.h, cpu_q8.h, cpu_q4.h) */
typedef enum fathom_packed_kind { FATHOM_PACKED_BF16 = 0, FATHOM_PACKED_INT8 = 1, FATHOM_PACKED_Q4 = 2 } fathom_packed_kind;

/* One packed matrix as loaded from a quantized file: the (N, K) GEMM matrix standing for the
 * fp32 tensor at src (in the arena, never read: its pages are never written), padded to
 * (Np, Kp), in arrays a (bf16: weights; int8: weights; q4: nibbles), b (int8: scales; q4:
 * bf16 scales), c (int8: column sums) of na / nb / nc bytes, 64-byte aligned. */
typedef struct fathom_packed_blob {
    const float *src;
    char name[112];
    fathom_packed_kind kind;
    int N, K, Np, Kp;
    void *a, *b, *c;
    size_t na, nb, nc;
} fathom_packed_blob;
/* The share takes b (its arrays, allocated with fathom_alloc) for the engines to borrow;
 * `released` adds the bytes of fp32 weights the file did not hold. Single-threaded: before
 * any engine is made. */
fathom_status fathom_packed_share_preload(fathom_packed_share *s, const fathom_packed_blob *b);
void fathom_packed_share_mark_loaded(fathom_packed_share *s, fathom_packed_kind kind, size_t absent_bytes);
/* The fathom_packed_kind a quantized file held, or -1 (the weights came as fp32) */
int fathom_packed_share_loaded(const fathom_packed_share *s);
/* The preloaded blob for src, NULL if none; how many there are (from a build, under the lock) */
const fathom_packed_blob *fathom_packed_share_blob(const fathom_packed_share *s, const float *src);
size_t fathom_packed_share_blobs(const fathom_packed_share *s, const fathom_packed_blob **first);

/* One struct (or array) holding tensor fields, copied from src to dst by fathom_slots_rebase. */
typedef struct fathom_slot_region {
    const void *src;
    void *dst;
    size_t bytes;
    const char *what; /* for the message */
} fathom_slot_region;

/* Copy every region, then point each slot-table field's copy (fields[k] lies in one region's
 * src) at the same offset in `base` instead of the arena *arena_field (that field, in a
 * region too, is set to base). FATHOM_ERR_INTERNAL if a field is outside the regions, or if
 * any copy still points into the arena afterwards (a tensor missing from the slot table), so
 * a device never gets a host pointer. */
fathom_status fathom_slots_rebase(float **const *fields, size_t n_fields, void *const *arena_field, size_t arena_bytes,
                                  void *base, const fathom_slot_region *reg, int nreg);

/* A view of h whose tensor fields point into `base` (a copy of h->arena, e.g. in device
 * memory) instead of h->arena: *out = *h with blocks = blocks_out (h->arch.depth entries,
 * owned by the caller) and every field of the slot table relocated. FATHOM_ERR_INTERNAL if a
 * field still points into h->arena afterwards (a tensor missing from the slot table), so a
 * device never gets a host pointer. out->fields stays h's (borrowed). */
fathom_status fathom_weights_rebase(const fathom_weights *h, void *base, fathom_weights *out,
                                    fathom_block_weights *blocks_out);

#endif
