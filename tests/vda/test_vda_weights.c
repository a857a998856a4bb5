/* test_vda_weights.c - Video Depth Anything checkpoints: what loads, what is refused and how.
 *
 * The golden tiny model.pth loads with its temporal widths; a DA-V2 checkpoint given where VDA
 * is needed, and a VDA checkpoint given to the DA-V2-only loader, each get a message that says
 * what the file is; an image engine refuses a VDA model; a VDA session refuses a frame size
 * change mid-video and names both sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fathom.h"
#include "model/vda.h"
#include "model/weights.h"
#include "test_util.h"

static char vda_pth[4096], dav2_pth[4096];

static void paths(void) {
    snprintf(vda_pth, sizeof vda_pth, "%s/../golden-vda/tiny-offline/model.pth", tu_golden_dir());
    snprintf(dav2_pth, sizeof dav2_pth, "%s/vits-pth/model.pth", tu_golden_dir());
    FILE *f = fopen(vda_pth, "rb");
    if (!f) tu_skip("no ../shared/golden-vda");
    fclose(f);
}

static void test_loads_with_widths(void **state) {
    (void)state;
    paths();
    fathom_model *m = NULL;
    assert_int_equal(fathom_model_load(vda_pth, NULL, &m), FATHOM_OK);
    assert_true(fathom_model_is_video(m));
    fathom_model_info in;
    fathom_model_get_info(m, &in);
    assert_int_equal(in.video, 1);
    const int want[4] = {64, 96, 32, 32}; /* golden-vda README: widths [64, 96, 32, 32] */
    for (int k = 0; k < 4; k++) assert_int_equal(in.temporal_widths[k], want[k]);
    /* 1,009,233 values in the file, PE buffers (2 x 32 x C per module) and unused excluded */
    int64_t pe = 0;
    for (int k = 0; k < 4; k++) pe += 2 * 32 * want[k];
    assert_int_equal(in.params + in.unused_params + pe, 1009233);
    /* an image engine refuses it and says what to use */
    fathom_engine *e = NULL;
    assert_int_not_equal(fathom_engine_create(m, NULL, &e), FATHOM_OK);
    assert_non_null(strstr(fathom_last_error(), "Video Depth Anything"));
    assert_non_null(strstr(fathom_last_error(), "Depth Anything V2"));
    fathom_model_free(&m);
}

static void test_crossed_checkpoints(void **state) {
    (void)state;
    paths();
    fathom_weights *w = NULL;
    fathom_vda_weights *t = NULL;
    /* VDA file to the DA-V2-only loader */
    assert_int_not_equal(fathom_weights_load(vda_pth, NULL, &w), FATHOM_OK);
    assert_null(w);
    printf("VDA -> DA-V2 loader: %s\n", fathom_last_error());
    assert_non_null(strstr(fathom_last_error(), "a Video Depth Anything checkpoint"));
    /* DA-V2 file where VDA is needed */
    assert_int_not_equal(fathom_vda_weights_load(dav2_pth, NULL, NULL, &w, &t), FATHOM_OK);
    assert_null(w);
    assert_null(t);
    printf("DA-V2 -> VDA loader: %s\n", fathom_last_error());
    assert_non_null(strstr(fathom_last_error(), "Depth Anything V2 (image) checkpoint"));
    fathom_model *m = NULL;
    assert_int_equal(fathom_model_load(dav2_pth, NULL, &m), FATHOM_OK);
    assert_false(fathom_model_is_video(m));
    fathom_vda *v = NULL;
    assert_int_not_equal(fathom_vda_create(m, NULL, NULL, NULL, NULL, &v), FATHOM_OK);
    fathom_model_free(&m);
}

static fathom_status count(void *user, int64_t frame, const float *d, int h, int w) {
    (void)d, (void)h, (void)w;
    *(int64_t *)user = frame + 1;
    return FATHOM_OK;
}

static void test_size_change(void **state) {
    (void)state;
    paths();
    fathom_model *m = NULL;
    assert_int_equal(fathom_model_load(vda_pth, NULL, &m), FATHOM_OK);
    for (int streaming = 0; streaming < 2; streaming++) {
        fathom_vda_params vp = fathom_vda_default_params();
        vp.input_size = 56;
        vp.streaming = streaming;
        fathom_engine_params ep = fathom_engine_default_params();
        ep.threads = 2;
        fathom_vda *v = NULL;
        int64_t got = 0;
        assert_int_equal(fathom_vda_create(m, &ep, &vp, count, &got, &v), FATHOM_OK);
        uint8_t *a = calloc(48 * 40 * 3, 1);
        for (int i = 0; i < 48 * 40 * 3; i++) a[i] = (uint8_t)(i * 7);
        assert_int_equal(fathom_vda_push(v, a, 40, 48, 48 * 3), FATHOM_OK);
        assert_int_equal(fathom_vda_push(v, a, 48, 40, 40 * 3), FATHOM_ERR_SHAPE);
        printf("size change: %s\n", fathom_last_error());
        assert_non_null(strstr(fathom_last_error(), "48 x 40"));
        assert_non_null(strstr(fathom_last_error(), "40 x 48"));
        assert_int_equal(fathom_vda_finish(v), FATHOM_OK); /* the first frame still comes out */
        assert_int_equal(got, 1);
        fathom_vda_free(&v);
        free(a);
    }
    fathom_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_with_widths),
        cmocka_unit_test(test_crossed_checkpoints),
        cmocka_unit_test(test_size_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
