/* test_weights_names.c - the official <-> Hugging Face name table in both directions, on the
 * real tensor names of the golden HF folder and the official .pth, and moving the weights
 * through the slot table (what the engine does for a device copy). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "model/pth.h"
#include "model/safetensors.h"
#include "model/weights.h"
#include "model/weights_names.h"
#include "test_util.h"

/* Every HF tensor of the tiny golden folder translates, and back to the same name. */
static void test_hf_round_trip(void **state) {
    (void)state;
    fathom_tensor_set set;
    assert_int_equal(fathom_st_open_file(tu_path(tu_golden_dir(), "tiny-hf/model/model.safetensors"), &set),
                     FATHOM_OK);
    int qkv = 0;
    for (size_t i = 0; i < set.n; i++) {
        char off[128], back[128];
        int part = -9;
        assert_true(fathom_name_hf_to_official(set.t[i].name, off, sizeof off, &part));
        assert_true(fathom_name_official_to_hf(off, part, back, sizeof back));
        if (strcmp(back, set.t[i].name)) printf("%s -> %s -> %s\n", set.t[i].name, off, back);
        assert_string_equal(back, set.t[i].name);
        qkv += part >= 0;
    }
    assert_true(qkv >= 6); /* q, k, v weight and bias of every block */
    fathom_tensor_set_close(&set);

    /* the renumbered indices, both ways */
    char out[128];
    int part;
    assert_true(fathom_name_hf_to_official("neck.convs.0.weight", out, sizeof out, &part));
    assert_string_equal(out, "depth_head.scratch.layer1_rn.weight");
    assert_true(fathom_name_hf_to_official("neck.fusion_stage.layers.0.residual_layer2.convolution1.bias",
                                           out, sizeof out, &part));
    assert_string_equal(out, "depth_head.scratch.refinenet4.resConfUnit2.conv1.bias");
    assert_true(fathom_name_official_to_hf("depth_head.scratch.refinenet1.out_conv.weight", -1, out,
                                           sizeof out));
    assert_string_equal(out, "neck.fusion_stage.layers.3.projection.weight");
    assert_true(fathom_name_official_to_hf("pretrained.blocks.7.attn.qkv.bias", 2, out, sizeof out));
    assert_string_equal(out, "backbone.encoder.layer.7.attention.attention.value.bias");
    /* not names of the model: no translation, no out-of-range index */
    assert_false(fathom_name_hf_to_official("backbone.encoder.layer.x.norm1.weight", out, sizeof out, &part));
    assert_false(fathom_name_official_to_hf("depth_head.scratch.refinenet5.out_conv.weight", -1, out,
                                            sizeof out));
    assert_string_equal(out, "depth_head.scratch.refinenet5.out_conv.weight");
    assert_false(fathom_name_official_to_hf("depth_head.scratch.layer0_rn.weight", -1, out, sizeof out));
}

/* Official .pth names are the other side of the table: each used one has an HF name that maps
 * back to it. */
static void test_official_round_trip(void **state) {
    (void)state;
    fathom_tensor_set set;
    assert_int_equal(fathom_pth_open_file(tu_path(tu_golden_dir(), "vits-pth/model.pth"), &set), FATHOM_OK);
    for (size_t i = 0; i < set.n; i++) {
        const char *nm = set.t[i].name;
        int parts = strstr(nm, ".attn.qkv.") ? 3 : 1;
        for (int p = 0; p < parts; p++) {
            char hf[128], back[128];
            int part = -9;
            assert_true(fathom_name_official_to_hf(nm, parts == 3 ? p : -1, hf, sizeof hf));
            assert_true(fathom_name_hf_to_official(hf, back, sizeof back, &part));
            assert_string_equal(back, nm);
            assert_int_equal(part, parts == 3 ? p : -1);
        }
    }
    fathom_tensor_set_close(&set);
}

/* Rebase onto a copy of the arena: every tensor field moves, the data behind it is the same,
 * and a slot table missing one field is refused rather than leaving a host pointer. */
static void test_rebase(void **state) {
    (void)state;
    fathom_weights *h = NULL;
    assert_int_equal(fathom_weights_load(tu_path(tu_golden_dir(), "tiny-hf/model"), NULL, &h), FATHOM_OK);
    char *copy = fathom_alloc(h->arena_bytes);
    fathom_block_weights *blocks = calloc((size_t)h->arch.depth, sizeof *blocks);
    assert_non_null(copy);
    assert_non_null(blocks);
    memcpy(copy, h->arena, h->arena_bytes);
    fathom_weights d;
    assert_int_equal(fathom_weights_rebase(h, copy, &d, blocks), FATHOM_OK);
    assert_true(d.blocks == blocks && d.arena == copy);
    const char *ha = h->arena;
#define SAME(f) assert_true((const char *)(d.f) - copy == (const char *)(h->f) - ha)
    SAME(cls_token), SAME(pos_embed), SAME(patch_w), SAME(norm_b), SAME(out3_b);
    SAME(fusion[3].out_w), SAME(fusion[0].rcu2_c2_b), SAME(proj_w[2]), SAME(rn_w[3]);
    for (int i = 0; i < h->arch.depth; i++) SAME(blocks[i].qkv_w), SAME(blocks[i].ls2);
#undef SAME
    assert_null(d.fusion[3].rcu1_c1_w); /* unused tensors stay NULL */
    assert_memory_equal(d.blocks[0].fc2_w, h->blocks[0].fc2_w, 16 * sizeof(float));

    size_t n = h->n_fields;
    assert_true(n > 10);
    h->n_fields = n - 1; /* as if build_slots forgot the last field */
    assert_int_equal(fathom_weights_rebase(h, copy, &d, blocks), FATHOM_ERR_INTERNAL);
    printf("%s\n", fathom_last_error());
    assert_non_null(strstr(fathom_last_error(), "missing from the slot table"));
    h->n_fields = n;
    free(blocks);
    fathom_free_sized(copy, h->arena_bytes);
    fathom_weights_free(&h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hf_round_trip),
        cmocka_unit_test(test_official_round_trip),
        cmocka_unit_test(test_rebase),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
