/* _fathom.c - CPython + NumPy C API binding of libfathom's public API (fathom.h only).
 *
 * Model owns a fathom_model and one fathom_engine. Inference runs with the GIL released; a
 * per-model lock serializes calls, since an engine belongs to one thread at a time. Failures
 * raise fathom.Error carrying the library's message (fathom_last_error) and status. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <pythread.h>
#include <stdlib.h>
#include <string.h>

#include <fathom.h>

static PyObject *FathomError; /* fathom.Error(RuntimeError): .status, .status_name */

/* The enum's name without FATHOM_ERR_ ("NOT_FOUND"), for code that tests statuses. */
static const char *status_name(fathom_status s)
{
    static const char *const names[] = {
        [FATHOM_OK] = "OK", [FATHOM_ERR_INVALID_ARG] = "INVALID_ARG",
        [FATHOM_ERR_NOMEM] = "NOMEM", [FATHOM_ERR_IO] = "IO", [FATHOM_ERR_NOT_FOUND] = "NOT_FOUND",
        [FATHOM_ERR_FORMAT] = "FORMAT", [FATHOM_ERR_UNSUPPORTED] = "UNSUPPORTED",
        [FATHOM_ERR_SHAPE] = "SHAPE", [FATHOM_ERR_TOO_LARGE] = "TOO_LARGE",
        [FATHOM_ERR_DEVICE] = "DEVICE", [FATHOM_ERR_NETWORK] = "NETWORK",
        [FATHOM_ERR_INTERRUPTED] = "INTERRUPTED", [FATHOM_ERR_DISK_FULL] = "DISK_FULL",
        [FATHOM_ERR_INTERNAL] = "INTERNAL"};
    if ((unsigned)s < sizeof names / sizeof names[0] && names[s]) return names[s];
    return "UNKNOWN";
}

/* Raise fathom.Error for status s with msg (the caller copied fathom_last_error on the thread
 * that failed, before the GIL came back). */
static PyObject *raise_status(fathom_status s, const char *msg)
{
    const char *text = (msg && *msg) ? msg : fathom_strerror(s);
    PyObject *exc = PyObject_CallFunction(FathomError, "s", text);
    if (!exc) return NULL;
    PyObject *code = PyLong_FromLong((long)s);
    PyObject *name = PyUnicode_FromString(status_name(s));
    if (code && name) {
        PyObject_SetAttrString(exc, "status", code);
        PyObject_SetAttrString(exc, "status_name", name);
    }
    Py_XDECREF(code);
    Py_XDECREF(name);
    PyErr_SetObject(FathomError, exc);
    Py_DECREF(exc);
    return NULL;
}

/* Keeps the message of a failure made with the GIL released. */
typedef struct { fathom_status st; char msg[1024]; } call_result;

static void note_error(call_result *r, fathom_status s)
{
    r->st = s;
    snprintf(r->msg, sizeof r->msg, "%s", fathom_last_error());
}

/* ======================================================================== Model */

typedef struct {
    PyObject_HEAD
    fathom_model *model;    /* owned */
    fathom_engine *engine;  /* owned */
    PyThread_type_lock lock; /* owned: one inference at a time on the engine */
    fathom_engine_params eparams;
    float *x, *net;          /* owned: input and network-output buffers, kept between calls */
    size_t cap;              /* floats of net (x holds 3 * cap); guarded by lock */
    char path[4096];         /* what the model argument resolved to (fathom_model_resolve) */
    int depthpro;            /* a Depth Pro model: 1536^2 input, metric depth, focal length */
} ModelObject;

static int parse_precision(const char *p, fathom_precision *out)
{
    static const struct { const char *name; fathom_precision v; } t[] = {
        {"default", FATHOM_PRECISION_DEFAULT}, {"fp32", FATHOM_PRECISION_FP32},
        {"fp16", FATHOM_PRECISION_FP16}, {"bf16", FATHOM_PRECISION_BF16}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(p, t[i].name) == 0) { *out = t[i].v; return 0; }
    PyErr_Format(PyExc_ValueError, "precision '%s': expected default, fp32, fp16 or bf16", p);
    return -1;
}

/* "cpu", "cuda", "cuda:N" */
static int parse_device(const char *d, fathom_engine_params *ep)
{
    if (strcmp(d, "cpu") == 0) { ep->device = FATHOM_DEVICE_CPU; return 0; }
    if (strncmp(d, "cuda", 4) == 0) {
        ep->device = FATHOM_DEVICE_CUDA;
        ep->device_index = 0;
        if (d[4] == '\0') return 0;
        char *end = NULL;
        long idx = d[4] == ':' ? strtol(d + 5, &end, 10) : -1;
        if (d[4] == ':' && end != d + 5 && *end == '\0' && idx >= 0 && idx < 1024) {
            ep->device_index = (int)idx;
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError, "device '%s': expected cpu, cuda or cuda:N", d);
    return -1;
}

static void Model_dealloc(ModelObject *self)
{
    fathom_engine_free(&self->engine);
    fathom_model_free(&self->model);
    if (self->lock) PyThread_free_lock(self->lock);
    free(self->x);
    free(self->net);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Model_init(ModelObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "device", "threads", "precision", "metric", "max_depth",
                             "offline", NULL};
    PyObject *path_obj = NULL, *metric_obj = Py_None;
    const char *device = "cpu", *precision = "default";
    int threads = 0;
    int offline = 0;
    float max_depth = 0.0f;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|s$isOfp", kwlist, PyUnicode_FSConverter,
                                     &path_obj, &device, &threads, &precision, &metric_obj,
                                     &max_depth, &offline))
        return -1;
    const char *path = PyBytes_AS_STRING(path_obj);
    fathom_model_params mp = fathom_model_default_params();
    if (metric_obj != Py_None) {
        int t = PyObject_IsTrue(metric_obj);
        if (t < 0) { Py_DECREF(path_obj); return -1; }
        mp.metric = t;
    }
    if (max_depth > 0) mp.max_depth = max_depth;
    fathom_engine_params ep = fathom_engine_default_params();
    ep.threads = threads;
    if (parse_device(device, &ep) < 0 || parse_precision(precision, &ep.precision) < 0) {
        Py_DECREF(path_obj);
        return -1;
    }
    if (self->model) { /* __init__ called again: start over */
        fathom_engine_free(&self->engine);
        fathom_model_free(&self->model);
    }
    if (!self->lock && !(self->lock = PyThread_allocate_lock())) {
        Py_DECREF(path_obj);
        PyErr_NoMemory();
        return -1;
    }
    call_result r = {FATHOM_OK, ""};
    fathom_model *m = NULL;
    fathom_engine *e = NULL;
    /* a name or repo id as `fathom run -m` takes it: fathom's cache, the Hugging Face cache,
     * then a download unless offline (or $HF_HUB_OFFLINE); a path stays as it is */
    fathom_resolve_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.offline = offline;
    Py_BEGIN_ALLOW_THREADS
    fathom_status s = fathom_model_resolve(path, &ro, self->path, sizeof self->path);
    if (s != FATHOM_OK) note_error(&r, s);
    else if ((s = fathom_model_load(self->path, &mp, &m)) != FATHOM_OK) note_error(&r, s);
    else if ((s = fathom_engine_create(m, &ep, &e)) != FATHOM_OK) note_error(&r, s);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (r.st != FATHOM_OK) {
        fathom_model_free(&m);
        raise_status(r.st, r.msg);
        return -1;
    }
    self->model = m;
    self->engine = e;
    self->depthpro = fathom_model_is_depthpro(m);
    self->eparams = ep;
    return 0;
}

/* An RGB uint8 (H, W, 3) array view: a new reference to an aligned array whose rows may be
 * strided but whose pixels are packed. */
static PyArrayObject *as_rgb(PyObject *obj, Py_ssize_t index)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_OTF(obj, NPY_UINT8, NPY_ARRAY_IN_ARRAY);
    if (!a) {
        if (index >= 0 && PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "image %zd: expected a uint8 array", index);
        }
        return NULL;
    }
    if (PyArray_NDIM(a) != 3 || PyArray_DIM(a, 2) != 3 || PyArray_DIM(a, 0) < 1 || PyArray_DIM(a, 1) < 1) {
        char shape[96] = "";
        for (int i = 0; i < PyArray_NDIM(a) && i < 6; i++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%zd", i ? ", " : "",
                     (Py_ssize_t)PyArray_DIM(a, i));
        if (index >= 0)
            PyErr_Format(PyExc_ValueError, "image %zd: expected an RGB uint8 array of shape (H, W, 3), got (%s)", index, shape);
        else
            PyErr_Format(PyExc_ValueError, "expected an RGB uint8 array of shape (H, W, 3), got (%s)", shape);
        Py_DECREF(a);
        return NULL;
    }
    if (PyArray_DIM(a, 0) > 1 << 20 || PyArray_DIM(a, 1) > 1 << 20) {
        PyErr_SetString(PyExc_ValueError, "image larger than 2^20 pixels on a side");
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

/* One image of a batch while the GIL is released. */
typedef struct {
    const uint8_t *rgb;
    int h0, w0, net_h, net_w;
    float *depth;    /* borrowed: the output array's data */
    double focal_px; /* Depth Pro: given (0: estimated by the model); out: the one used */
} job;

/* The network size of b: the official resize rule, or Depth Pro's fixed 1536^2. */
static void set_net_size(const ModelObject *self, job *b, int input_size)
{
    if (self->depthpro) b->net_h = b->net_w = FATHOM_DEPTHPRO_SIZE;
    else fathom_network_size(b->h0, b->w0, input_size, &b->net_h, &b->net_w);
}

static fathom_status preprocess(const ModelObject *self, const job *b, float *x)
{
    if (self->depthpro) return fathom_depthpro_preprocess(b->rgb, b->h0, b->w0, (size_t)b->w0 * 3, x);
    return fathom_preprocess(b->rgb, b->h0, b->w0, (size_t)b->w0 * 3, b->net_h, b->net_w, x);
}

/* Network output of image i of the batch -> depth at the image's size (Depth Pro: metres from
 * the canonical inverse depth and the focal length). */
static fathom_status postprocess(const ModelObject *self, job *b, int i, const float *net)
{
    if (!self->depthpro) {
        fathom_resize_depth(net, b->net_h, b->net_w, b->depth, b->h0, b->w0);
        return FATHOM_OK;
    }
    return fathom_depthpro_postprocess(net, fathom_engine_fov_deg(self->engine, i), b->focal_px,
                                       b->h0, b->w0, b->depth, &b->focal_px);
}

/* Run jobs [0, n) in groups of consecutive images with the same network size, at most `batch`
 * per forward call. Called with the GIL released and the model lock held. */
static void run_jobs(ModelObject *self, job *jobs, int n, int batch, call_result *r)
{
    for (int i = 0; i < n;) {
        int k = 1;
        while (i + k < n && k < batch && jobs[i + k].net_h == jobs[i].net_h &&
               jobs[i + k].net_w == jobs[i].net_w)
            k++;
        size_t plane = (size_t)jobs[i].net_h * jobs[i].net_w;
        if (plane * k > self->cap) { /* grow only: repeated calls allocate nothing */
            free(self->x);
            free(self->net);
            self->cap = plane * k;
            self->x = malloc(sizeof(float) * 3 * self->cap);
            self->net = malloc(sizeof(float) * self->cap);
            if (!self->x || !self->net) {
                free(self->x);
                free(self->net);
                self->x = self->net = NULL;
                self->cap = 0;
                r->st = FATHOM_ERR_NOMEM;
                snprintf(r->msg, sizeof r->msg, "out of memory for a batch of %d images of %dx%d",
                         k, jobs[i].net_w, jobs[i].net_h);
                return;
            }
        }
        float *x = self->x, *net = self->net;
        for (int j = 0; j < k; j++) {
            fathom_status s = preprocess(self, &jobs[i + j], x + (size_t)j * 3 * plane);
            if (s != FATHOM_OK) { note_error(r, s); return; }
        }
        fathom_status s = fathom_engine_forward(self->engine, x, k, jobs[i].net_h, jobs[i].net_w, net);
        if (s != FATHOM_OK) { note_error(r, s); return; }
        for (int j = 0; j < k; j++) {
            s = postprocess(self, &jobs[i + j], j, net + (size_t)j * plane);
            if (s != FATHOM_OK) { note_error(r, s); return; }
        }
        i += k;
    }
}

static int check_input_size(int input_size)
{
    if (input_size < 14 || input_size > 8192) {
        PyErr_Format(PyExc_ValueError, "input_size %d: expected 14..8192", input_size);
        return -1;
    }
    return 0;
}

/* infer_batch(images, input_size=518, batch_size=4) -> list of float32 (H, W) arrays */
static PyObject *Model_infer_batch(ModelObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"images", "input_size", "batch_size", NULL};
    PyObject *seq_obj;
    int input_size = 518, batch = 4;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|ii", kwlist, &seq_obj, &input_size, &batch))
        return NULL;
    if (!self->engine) { PyErr_SetString(PyExc_RuntimeError, "Model is not initialized"); return NULL; }
    if (check_input_size(input_size) < 0) return NULL;
    if (batch < 1) { PyErr_Format(PyExc_ValueError, "batch_size %d: expected >= 1", batch); return NULL; }
    PyObject *seq = PySequence_Fast(seq_obj, "images: expected a sequence of arrays");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *inputs = PyList_New(n);  /* owned: keeps the uint8 views alive */
    PyObject *outputs = PyList_New(n); /* owned until returned */
    job *jobs = PyMem_Calloc(n ? n : 1, sizeof(job)); /* owned */
    if (!inputs || !outputs || !jobs) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyArrayObject *a = as_rgb(PySequence_Fast_GET_ITEM(seq, i), i);
        if (!a) goto done;
        PyList_SET_ITEM(inputs, i, (PyObject *)a);
        job *b = &jobs[i];
        b->rgb = PyArray_DATA(a);
        b->h0 = (int)PyArray_DIM(a, 0);
        b->w0 = (int)PyArray_DIM(a, 1);
        set_net_size(self, b, input_size);
        npy_intp dims[2] = {b->h0, b->w0};
        PyObject *out = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
        if (!out) goto done;
        PyList_SET_ITEM(outputs, i, out);
        b->depth = PyArray_DATA((PyArrayObject *)out);
    }
    call_result r = {FATHOM_OK, ""};
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    run_jobs(self, jobs, (int)n, batch, &r);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    if (r.st != FATHOM_OK) { raise_status(r.st, r.msg); goto done; }
    PyMem_Free(jobs);
    Py_DECREF(inputs);
    Py_DECREF(seq);
    return outputs;
done:
    PyMem_Free(jobs);
    Py_XDECREF(inputs);
    Py_XDECREF(outputs);
    Py_DECREF(seq);
    return NULL;
}

/* infer(image, input_size=518, *, focal_px=0, with_focal=False) -> float32 (H, W) array, or
 * (array, focal_px) */
static PyObject *Model_infer(ModelObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"image", "input_size", "focal_px", "with_focal", NULL};
    PyObject *img;
    int input_size = 518, with_focal = 0;
    double focal_px = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|i$dp", kwlist, &img, &input_size, &focal_px,
                                     &with_focal))
        return NULL;
    if (!(focal_px >= 0 && focal_px <= 1e9)) {
        PyErr_Format(PyExc_ValueError, "focal_px %g: expected 0 (estimated) or a length in pixels",
                     focal_px);
        return NULL;
    }
    if (!self->engine) { PyErr_SetString(PyExc_RuntimeError, "Model is not initialized"); return NULL; }
    if (check_input_size(input_size) < 0) return NULL;
    PyArrayObject *a = as_rgb(img, -1);
    if (!a) return NULL;
    job b = {PyArray_DATA(a), (int)PyArray_DIM(a, 0), (int)PyArray_DIM(a, 1), 0, 0, NULL, focal_px};
    set_net_size(self, &b, input_size);
    npy_intp dims[2] = {b.h0, b.w0};
    PyObject *out = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!out) { Py_DECREF(a); return NULL; }
    b.depth = PyArray_DATA((PyArrayObject *)out);
    call_result r = {FATHOM_OK, ""};
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    run_jobs(self, &b, 1, 1, &r);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    Py_DECREF(a);
    if (r.st != FATHOM_OK) { Py_DECREF(out); return raise_status(r.st, r.msg); }
    if (!with_focal) return out;
    /* a relative or metric DA-V2 model has no focal length: None */
    PyObject *f = self->depthpro ? PyFloat_FromDouble(b.focal_px) : (Py_INCREF(Py_None), Py_None);
    if (!f) { Py_DECREF(out); return NULL; }
    return Py_BuildValue("(NN)", out, f);
}

/* forward(x) -> depth at network size: x float32 (B, 3, H, W), already preprocessed. The raw
 * engine call, for benchmarks of the binding's overhead and for custom preprocessing. */
static PyObject *Model_forward(ModelObject *self, PyObject *arg)
{
    if (!self->engine) { PyErr_SetString(PyExc_RuntimeError, "Model is not initialized"); return NULL; }
    PyArrayObject *x = (PyArrayObject *)PyArray_FROM_OTF(arg, NPY_FLOAT32, NPY_ARRAY_IN_ARRAY);
    if (!x) return NULL;
    if (PyArray_NDIM(x) != 4 || PyArray_DIM(x, 1) != 3 || PyArray_DIM(x, 0) < 1 ||
        PyArray_DIM(x, 2) % 14 || PyArray_DIM(x, 3) % 14 || PyArray_DIM(x, 2) < 14 || PyArray_DIM(x, 3) < 14) {
        PyErr_SetString(PyExc_ValueError, "forward: expected float32 (B, 3, H, W) with H, W multiples of 14");
        Py_DECREF(x);
        return NULL;
    }
    int B = (int)PyArray_DIM(x, 0), H = (int)PyArray_DIM(x, 2), W = (int)PyArray_DIM(x, 3);
    npy_intp dims[3] = {B, H, W};
    PyObject *out = PyArray_SimpleNew(3, dims, NPY_FLOAT32);
    if (!out) { Py_DECREF(x); return NULL; }
    const float *xp = PyArray_DATA(x);
    float *op = PyArray_DATA((PyArrayObject *)out);
    call_result r = {FATHOM_OK, ""};
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    fathom_status s = fathom_engine_forward(self->engine, xp, B, H, W, op);
    if (s != FATHOM_OK) note_error(&r, s);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    if (r.st != FATHOM_OK) { Py_DECREF(out); return raise_status(r.st, r.msg); }
    return out;
}

static PyObject *Model_info(ModelObject *self, PyObject *unused)
{
    if (!self->model) { PyErr_SetString(PyExc_RuntimeError, "Model is not initialized"); return NULL; }
    fathom_model_info i;
    fathom_model_get_info(self->model, &i);
    return Py_BuildValue("{s:s,s:s,s:s,s:s,s:s,s:L,s:O,s:O,s:f,s:i,s:i,s:i,s:i}", "path",
                         self->path, "family", i.family, "format", i.format, "arch", i.arch, "dtype", i.dtype, "params", (long long)i.params,
                         "metric", i.metric ? Py_True : Py_False,
                         "focal", i.focal ? Py_True : Py_False, "max_depth", (double)i.max_depth,
                         "embed_dim", i.embed_dim, "depth", i.depth, "heads", i.heads,
                         "features", i.features);
}

static PyMethodDef Model_methods[] = {
    {"infer", (PyCFunction)(void (*)(void))Model_infer, METH_VARARGS | METH_KEYWORDS,
     "infer(image, input_size=518, *, focal_px=0, with_focal=False) -> float32 depth (H, W) of "
     "an RGB uint8 (H, W, 3) image. Depth Pro: metres, at its fixed 1536x1536 network input "
     "(input_size unused), with focal_px (pixels) or, when 0, the model's estimate; with_focal "
     "returns (depth, focal_px used) (None for other models)"},
    {"infer_batch", (PyCFunction)(void (*)(void))Model_infer_batch, METH_VARARGS | METH_KEYWORDS,
     "infer_batch(images, input_size=518, batch_size=4) -> list of float32 depth maps"},
    {"forward", (PyCFunction)Model_forward, METH_O,
     "forward(x) -> float32 (B, H, W): the engine on preprocessed float32 (B, 3, H, W)"},
    {"info", (PyCFunction)Model_info, METH_NOARGS, "info() -> dict describing the model"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fathom._fathom.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Model(path, device='cpu', threads=0, precision='default', *, metric=None, "
              "max_depth=0, offline=False)",
    .tp_methods = Model_methods,
    .tp_init = (initproc)Model_init,
    .tp_new = PyType_GenericNew,
};

/* ======================================================================== frames */

/* Iterator over a video's frames: each next() decodes with the GIL released and returns a copy
 * (uint8 (H, W, 3)), so frames outlive the iterator. */
typedef struct {
    PyObject_HEAD
    fathom_frames *frames;   /* owned; NULL once exhausted or closed */
    PyThread_type_lock lock; /* owned: one decode at a time */
} FramesObject;

static void Frames_dealloc(FramesObject *self)
{
    fathom_frames_free(&self->frames);
    if (self->lock) PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Frames_next(FramesObject *self)
{
    if (!self->frames) return NULL; /* StopIteration */
    fathom_frame fr;
    int got = 0;
    PyObject *out = NULL;
    call_result r = {FATHOM_OK, ""};
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    fathom_status s = fathom_frames_next(self->frames, &fr, &got);
    if (s != FATHOM_OK) note_error(&r, s);
    Py_END_ALLOW_THREADS
    if (r.st == FATHOM_OK && got) {
        npy_intp dims[3] = {fr.height, fr.width, 3};
        out = PyArray_SimpleNew(3, dims, NPY_UINT8);
        if (out) {
            uint8_t *dst = PyArray_DATA((PyArrayObject *)out);
            for (int y = 0; y < fr.height; y++)
                memcpy(dst + (size_t)y * fr.width * 3, fr.rgb + (size_t)y * fr.stride, (size_t)fr.width * 3);
        }
    }
    PyThread_release_lock(self->lock);
    if (r.st != FATHOM_OK || !got) fathom_frames_free(&self->frames);
    if (r.st != FATHOM_OK) return raise_status(r.st, r.msg);
    return out; /* NULL without an exception at the end: StopIteration */
}

static PyTypeObject FramesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fathom._fathom.Frames",
    .tp_basicsize = sizeof(FramesObject),
    .tp_dealloc = (destructor)Frames_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Iterator over a video's frames as RGB uint8 (H, W, 3) arrays (fathom.read_frames)",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Frames_next,
};

/* read_frames(path, max_frames=0) -> iterator of RGB uint8 (H, W, 3) frames */
static PyObject *py_read_frames(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "max_frames", NULL};
    PyObject *path_obj = NULL;
    long long max_frames = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|L", kwlist, PyUnicode_FSConverter, &path_obj,
                                     &max_frames))
        return NULL;
    if (max_frames < 0) {
        Py_DECREF(path_obj);
        PyErr_Format(PyExc_ValueError, "max_frames %lld: expected >= 0", max_frames);
        return NULL;
    }
    FramesObject *self = PyObject_New(FramesObject, &FramesType);
    if (!self) { Py_DECREF(path_obj); return NULL; }
    self->frames = NULL;
    if (!(self->lock = PyThread_allocate_lock())) {
        Py_DECREF(path_obj);
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    call_result r = {FATHOM_OK, ""};
    fathom_frames *f = NULL;
    Py_BEGIN_ALLOW_THREADS
    fathom_status s = fathom_frames_open(PyBytes_AS_STRING(path_obj), (int64_t)max_frames, &f);
    if (s != FATHOM_OK) note_error(&r, s);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (r.st != FATHOM_OK) {
        Py_DECREF(self);
        return raise_status(r.st, r.msg);
    }
    self->frames = f;
    return (PyObject *)self;
}

/* ======================================================================== functions */

/* load_image(path) -> RGB uint8 (H, W, 3), decoded as fathom run decodes (EXIF orientation). */
static PyObject *py_load_image(PyObject *mod, PyObject *arg)
{
    PyObject *path_obj = NULL;
    if (!PyUnicode_FSConverter(arg, &path_obj)) return NULL;
    fathom_image img = {0};
    call_result r = {FATHOM_OK, ""};
    Py_BEGIN_ALLOW_THREADS
    fathom_status s = fathom_image_load(PyBytes_AS_STRING(path_obj), 0, &img);
    if (s != FATHOM_OK) note_error(&r, s);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (r.st != FATHOM_OK) return raise_status(r.st, r.msg);
    npy_intp dims[3] = {img.height, img.width, 3};
    PyObject *out = PyArray_SimpleNew(3, dims, NPY_UINT8);
    if (out) {
        uint8_t *dst = PyArray_DATA((PyArrayObject *)out);
        for (int y = 0; y < img.height; y++)
            memcpy(dst + (size_t)y * img.width * 3, img.rgb + (size_t)y * img.stride, (size_t)img.width * 3);
    }
    fathom_image_free(&img);
    return out;
}

static PyObject *py_version(PyObject *mod, PyObject *unused)
{
    return PyUnicode_FromString(fathom_version());
}

static PyMethodDef module_methods[] = {
    {"load_image", py_load_image, METH_O,
     "load_image(path) -> RGB uint8 (H, W, 3): JPEG, PNG, WebP, ... with EXIF orientation"},
    {"read_frames", (PyCFunction)(void (*)(void))py_read_frames, METH_VARARGS | METH_KEYWORDS,
     "read_frames(path, max_frames=0) -> iterator of a video's RGB uint8 (H, W, 3) frames"},
    {"version", py_version, METH_NOARGS, "version() -> libfathom's version string"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_fathom",
    .m_doc = "libfathom binding (use the fathom package)",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__fathom(void)
{
    import_array();
    if (PyType_Ready(&ModelType) < 0 || PyType_Ready(&FramesType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    FathomError = PyErr_NewExceptionWithDoc("fathom.Error",
        "A libfathom failure: str() is the library's message; .status (the fathom_status value)\n"
        "and .status_name (\"NOT_FOUND\", \"FORMAT\", ...: the enum name without FATHOM_ERR_).",
        PyExc_RuntimeError, NULL);
    if (!FathomError || PyModule_AddObjectRef(m, "Error", FathomError) < 0 ||
        PyModule_AddObjectRef(m, "Model", (PyObject *)&ModelType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
