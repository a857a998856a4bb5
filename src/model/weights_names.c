/* weights_names.c - official <-> Hugging Face tensor names, from one table of patterns.
 *
 * A pattern is literal text with placeholders: {s} the rest of the name (last only); {i} a
 * decimal index (1-4 digits); {u}, {c} one digit; an index may be written {i+1} or {4-i} when
 * the two schemes number differently (HF neck.convs.0 = official layer1_rn; HF fusion layer j
 * = official refinenet 4 - j). Matching one side binds the variables, writing the other side
 * uses them, so the same row translates both ways. Rows are tried in order: specific rows come
 * before the catch-all ones of their prefix. */
#include "model/weights_names.h"

#include <stdio.h>
#include <string.h>

typedef struct name_rule {
    const char *hf, *official;
    int part; /* 0/1/2: HF query/key/value = rows of official qkv; -1: whole tensor */
} name_rule;

static const name_rule rules[] = {
    {"backbone.embeddings.cls_token", "pretrained.cls_token", -1},
    {"backbone.embeddings.mask_token", "pretrained.mask_token", -1},
    {"backbone.embeddings.position_embeddings", "pretrained.pos_embed", -1},
    {"backbone.embeddings.patch_embeddings.projection.{s}", "pretrained.patch_embed.proj.{s}", -1},
    {"backbone.encoder.layer.{i}.attention.attention.query.{s}", "pretrained.blocks.{i}.attn.qkv.{s}", 0},
    {"backbone.encoder.layer.{i}.attention.attention.key.{s}", "pretrained.blocks.{i}.attn.qkv.{s}", 1},
    {"backbone.encoder.layer.{i}.attention.attention.value.{s}", "pretrained.blocks.{i}.attn.qkv.{s}", 2},
    {"backbone.encoder.layer.{i}.attention.output.dense.{s}", "pretrained.blocks.{i}.attn.proj.{s}", -1},
    {"backbone.encoder.layer.{i}.layer_scale1.lambda1", "pretrained.blocks.{i}.ls1.gamma", -1},
    {"backbone.encoder.layer.{i}.layer_scale2.lambda1", "pretrained.blocks.{i}.ls2.gamma", -1},
    {"backbone.encoder.layer.{i}.mlp.weights_in.{s}", "pretrained.blocks.{i}.mlp.w12.{s}", -1},
    {"backbone.encoder.layer.{i}.mlp.weights_out.{s}", "pretrained.blocks.{i}.mlp.w3.{s}", -1},
    {"backbone.encoder.layer.{i}.{s}", "pretrained.blocks.{i}.{s}", -1}, /* norm1, mlp.fc1, ... */
    {"backbone.layernorm.{s}", "pretrained.norm.{s}", -1},
    {"neck.reassemble_stage.layers.{i}.projection.{s}", "depth_head.projects.{i}.{s}", -1},
    {"neck.reassemble_stage.layers.{i}.resize.{s}", "depth_head.resize_layers.{i}.{s}", -1},
    {"neck.convs.{i}.{s}", "depth_head.scratch.layer{i+1}_rn.{s}", -1},
    {"neck.fusion_stage.layers.{i}.projection.{s}", "depth_head.scratch.refinenet{4-i}.out_conv.{s}", -1},
    {"neck.fusion_stage.layers.{i}.residual_layer{u}.convolution{c}.{s}",
     "depth_head.scratch.refinenet{4-i}.resConfUnit{u}.conv{c}.{s}", -1},
    {"head.conv1.{s}", "depth_head.scratch.output_conv1.{s}", -1},
    {"head.conv2.{s}", "depth_head.scratch.output_conv2.0.{s}", -1},
    {"head.conv3.{s}", "depth_head.scratch.output_conv2.2.{s}", -1},
};

enum { V_I, V_U, V_C, V_N };

typedef struct binding {
    int v[V_N];
    int set[V_N];
    const char *rest; /* {s} */
} binding;

/* A placeholder at p ("{...}"): its variable, the affine form value = sign * var + add, the
 * digit limit, and its length. 0 when p is not a placeholder. */
static int placeholder(const char *p, int *var, int *sign, int *add, int *digits, size_t *len) {
    static const struct { const char *text; int var, sign, add, digits; } forms[] = {
        {"{i}", V_I, 1, 0, 4}, {"{i+1}", V_I, 1, 1, 4}, {"{4-i}", V_I, -1, 4, 1},
        {"{u}", V_U, 1, 0, 1}, {"{c}", V_C, 1, 0, 1},
    };
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        size_t n = strlen(forms[k].text);
        if (strncmp(p, forms[k].text, n) == 0) {
            *var = forms[k].var, *sign = forms[k].sign, *add = forms[k].add;
            *digits = forms[k].digits, *len = n;
            return 1;
        }
    }
    return 0;
}

/* Matches name against pattern pat, binding variables; 1 on a full match. */
static int match(const char *pat, const char *name, binding *b) {
    memset(b, 0, sizeof *b);
    while (*pat) {
        int var, sign, add, digits;
        size_t len;
        if (strcmp(pat, "{s}") == 0) {
            b->rest = name;
            return 1;
        }
        if (placeholder(pat, &var, &sign, &add, &digits, &len)) {
            int x = 0, k = 0;
            while (name[k] >= '0' && name[k] <= '9' && k < digits) x = x * 10 + (name[k++] - '0');
            if (k == 0 || (name[k] >= '0' && name[k] <= '9')) return 0;
            int v = (x - add) * sign; /* sign is +-1: its own inverse */
            if (v < 0 || (b->set[var] && b->v[var] != v)) return 0;
            b->v[var] = v, b->set[var] = 1;
            pat += len, name += k;
            continue;
        }
        if (*pat != *name) return 0;
        pat++, name++;
    }
    return *name == '\0';
}

/* Writes pattern pat with binding b into out; 1 when it fits and every value is valid. */
static int expand(const char *pat, const binding *b, char *out, size_t cap) {
    size_t n = 0;
    while (*pat) {
        int var, sign, add, digits, w;
        size_t len;
        if (strcmp(pat, "{s}") == 0) {
            w = snprintf(out + n, cap - n, "%s", b->rest ? b->rest : "");
            pat += 3;
        } else if (placeholder(pat, &var, &sign, &add, &digits, &len)) {
            int value = sign * b->v[var] + add;
            if (!b->set[var] || value < 0) return 0;
            w = snprintf(out + n, cap - n, "%d", value);
            pat += len;
        } else {
            w = snprintf(out + n, cap - n, "%c", *pat++);
        }
        if (w < 0 || (size_t)w >= cap - n) return 0;
        n += (size_t)w;
    }
    return 1;
}

int fathom_name_hf_to_official(const char *hf, char *out, size_t cap, int *part) {
    binding b;
    *part = -1;
    for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++)
        if (match(rules[k].hf, hf, &b)) {
            if (!expand(rules[k].official, &b, out, cap)) return 0;
            *part = rules[k].part;
            return 1;
        }
    return 0;
}

int fathom_name_official_to_hf(const char *official, int part, char *out, size_t cap) {
    binding b;
    for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++)
        if (rules[k].part == part && match(rules[k].official, official, &b) &&
            expand(rules[k].hf, &b, out, cap))
            return 1;
    snprintf(out, cap, "%s", official);
    return 0;
}
