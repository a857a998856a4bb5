/* depth_once.c - a user's program of the installed libfathom: only <fathom.h>, only public
 * calls. Usage: depth_once MODEL IMAGE INPUT_SIZE OUT.npy (the depth map at the image's size). */
#include <fathom.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, fathom_status s)
{
    fprintf(stderr, "depth_once: %s: %s (%s)\n", what, fathom_strerror(s), fathom_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: depth_once MODEL IMAGE INPUT_SIZE OUT.npy\n");
        return 2;
    }
    printf("libfathom %s (header %s)\n", fathom_version(), FATHOM_VERSION);
    fathom_model *m = NULL;    /* owned: freed at the end */
    fathom_engine *e = NULL;   /* owned */
    fathom_image img = {0};    /* owned pixels */
    float *x = NULL, *net = NULL, *depth = NULL; /* owned */
    int rc = 1, H, W;
    fathom_status s;
    if ((s = fathom_model_load(argv[1], NULL, &m)) != FATHOM_OK) { rc = fail("model", s); goto done; }
    if ((s = fathom_engine_create(m, NULL, &e)) != FATHOM_OK) { rc = fail("engine", s); goto done; }
    if ((s = fathom_image_load(argv[2], 0, &img)) != FATHOM_OK) { rc = fail("image", s); goto done; }
    fathom_network_size(img.height, img.width, atoi(argv[3]), &H, &W);
    x = malloc(sizeof(float) * 3 * H * W);
    net = malloc(sizeof(float) * H * W);
    depth = malloc(sizeof(float) * img.height * img.width);
    if (!x || !net || !depth) { fprintf(stderr, "depth_once: out of memory\n"); goto done; }
    if ((s = fathom_preprocess(img.rgb, img.height, img.width, img.stride, H, W, x)) != FATHOM_OK
        || (s = fathom_engine_forward(e, x, 1, H, W, net)) != FATHOM_OK) {
        rc = fail("inference", s);
        goto done;
    }
    fathom_resize_depth(net, H, W, depth, img.height, img.width);
    if ((s = fathom_depth_write(argv[4], FATHOM_OUT_NPY, depth, img.height, img.width, NULL)))
        { rc = fail("write", s); goto done; }
    rc = 0;
done:
    free(x); free(net); free(depth);
    fathom_image_free(&img);
    fathom_engine_free(&e);
    fathom_model_free(&m);
    return rc;
}
