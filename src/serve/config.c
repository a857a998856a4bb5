/* config.c - key table, text setters, JSON patch (cJSON) and YAML file (libyaml) for the live
 * settings. All parsers funnel into sv_config_set on a copy, so a bad value never leaves the
 * settings half-changed. */
#include "serve/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include "media/colormap.h"

typedef enum { K_STR, K_OPTS, K_BOOL, K_INT, K_NUM, K_CMAP, K_BYTES } kind;

typedef struct key_info {
    const char *name;
    kind k;
    double lo, hi;
    size_t off;
    const char *doc; /* written into the config file */
} key_info;

#define OFF(f) offsetof(sv_config, f)
static const key_info k_keys[] = {
    {"source", K_STR, 0, 0, OFF(source),
     "file, URL (udp://, rtsp://, http://, srt://) or /dev/videoN; empty: POST /v1/depth only.\n"
     "# Changing it closes the current source and opens the new one (clients stay connected)."},
    {"source_options", K_OPTS, 0, 0, OFF(source_options),
     "options for opening the source, KEY=VALUE separated by commas, as ffmpeg's input options;\n"
     "# a camera: video_size=1280x720,framerate=30,input_format=mjpeg; format=NAME forces the\n"
     "# demuxer (v4l2, rawvideo, ...). Changing it reopens the source."},
    {"model", K_STR, 0, 0, OFF(model),
     "model name or path; empty: the one given with --model. Changing it loads the new model\n"
     "# beside the running one and swaps between frames; a model that fails to load is refused."},
    {"record", K_STR, 0, 0, OFF(record),
     "record the depth to this video file (.mkv: lossless FFV1 gray16; .mp4: H.264); empty: off.\n"
     "# Changing or clearing it finalizes the current file."},
    {"output_url", K_STR, 0, 0, OFF(output_url),
     "publish the colorized depth as a live stream (udp://, rtmp://, srt://, file); empty: off"},
    {"realtime", K_BOOL, 0, 1, OFF(realtime), "files play at their own frame rate (false: as fast as possible)"},
    {"loop", K_BOOL, 0, 1, OFF(loop), "files start again at their end"},
    {"max_res", K_INT, 16, 8192, OFF(max_res), "longest side of source frames given to the analyser (next source open)"},
    {"input_size", K_INT, 14, 8192, OFF(input_size), "network lower bound, as fathom run --input-size (next frame)"},
    {"colormap", K_CMAP, 0, 0, OFF(colormap), "spectral_r, inferno, turbo or gray (next frame)"},
    {"invert", K_BOOL, 0, 1, OFF(invert), "near = dark in MJPEG, color and png16 outputs (next frame)"},
    {"target_util", K_NUM, 0, 99.999, OFF(target_util), "governor target utilization percent; 0: none (next frame)"},
    {"ws", K_BOOL, 0, 1, OFF(ws), "WebSocket sink GET /v1/stream on/off (immediately)"},
    {"mjpeg", K_BOOL, 0, 1, OFF(mjpeg), "MJPEG sink GET /v1/mjpeg on/off (immediately)"},
    {"jpeg_quality", K_INT, 1, 100, OFF(jpeg_quality), "MJPEG JPEG quality (next frame)"},
    {"max_clients", K_INT, 1, 10000, OFF(max_clients), "streaming clients at once (new clients)"},
    {"max_body", K_BYTES, 1, 1 << 30, OFF(max_body), "largest POST /v1/depth body, e.g. 32M (new requests)"},
    {"client_queue", K_INT, 1, 64, OFF(client_queue), "frames queued per streaming client before it loses frames (new clients)"},
};
#define N_KEYS (sizeof k_keys / sizeof k_keys[0])

void sv_config_defaults(sv_config *c) {
    memset(c, 0, sizeof *c);
    c->realtime = 0;
    c->max_res = 640;
    c->input_size = 518;
    c->colormap = FATHOM_CMAP_SPECTRAL_R;
    c->ws = 1;
    c->mjpeg = 1;
    c->jpeg_quality = 80;
    c->max_clients = 64;
    c->max_body = 32u << 20;
    c->client_queue = 2;
}

static const key_info *find_key(const char *name) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(k_keys[i].name, name)) return &k_keys[i];
    return NULL;
}

/* Text settings are printable UTF-8: no control bytes, no broken sequences (they must survive
 * the YAML file and JSON replies unchanged). */
/* Strict UTF-8 of printable characters only: no C0 / C1 controls, DEL, overlong forms,
 * surrogates or code points past U+10FFFF, and none of the characters YAML reads as a line
 * break or refuses (U+2028, U+2029, U+FEFF, U+FFFE, U+FFFF), so that every accepted value
 * renders as a double-quoted YAML scalar that loads back the same (fuzz_serve_config found
 * "\L", U+2028, coming back folded). */
static int printable_utf8(const char *v) {
    const unsigned char *p = (const unsigned char *)v;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || *p < 0x20 || *p == 0x7f) return 0;
        unsigned cp = n == 0 ? *p : n == 1 ? *p & 0x1fu : n == 2 ? *p & 0x0fu : *p & 0x07u;
        p++;
        for (int i = 0; i < n; i++, p++) {
            if ((*p & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (*p & 0x3fu);
        }
        static const unsigned min_of[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_of[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff || cp == 0xfffe ||
            cp == 0xffff)
            return 0;
    }
    return 1;
}

static int parse_cmap(const char *s, fathom_colormap *out) {
    static const struct { const char *n; fathom_colormap c; } k[] = {
        {"spectral_r", FATHOM_CMAP_SPECTRAL_R}, {"spectral", FATHOM_CMAP_SPECTRAL_R},
        {"inferno", FATHOM_CMAP_INFERNO}, {"turbo", FATHOM_CMAP_TURBO},
        {"gray", FATHOM_CMAP_GRAY}, {"grey", FATHOM_CMAP_GRAY}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcasecmp(s, k[i].n)) {
            *out = k[i].c;
            return 1;
        }
    return 0;
}

int sv_config_set(sv_config *c, const char *key, const char *v, char *err, size_t cap) {
    const key_info *ki = find_key(key);
    if (!ki) {
        snprintf(err, cap, "unknown setting '%.64s'", key);
        return -1;
    }
    void *p = (char *)c + ki->off;
    char *end;
    switch (ki->k) {
    case K_OPTS: /* KEY=VALUE,KEY=VALUE: every item has a key */
        for (const char *q = v; *q;) {
            const char *comma = strchr(q, ','), *eq = strchr(q, '=');
            size_t n = comma ? (size_t)(comma - q) : strlen(q);
            if (!eq || eq == q || (size_t)(eq - q) >= n) {
                snprintf(err, cap, "%s: '%.*s' is not KEY=VALUE", key, n > 64 ? 64 : (int)n, q);
                return -1;
            }
            q += n + (comma ? 1 : 0);
        }
        /* fall through */
    case K_STR:
        if (strlen(v) >= SV_STR) {
            snprintf(err, cap, "%s: longer than %d bytes", key, SV_STR - 1);
            return -1;
        }
        if (!printable_utf8(v)) {
            snprintf(err, cap, "%s: control characters or invalid UTF-8", key);
            return -1;
        }
        snprintf((char *)p, SV_STR, "%s", v);
        return 0;
    case K_BOOL:
        if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
            *(int *)p = 1;
        else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") ||
                 !strcasecmp(v, "off"))
            *(int *)p = 0;
        else {
            snprintf(err, cap, "%s: '%.64s' is not true or false", key, v);
            return -1;
        }
        return 0;
    case K_CMAP:
        if (!parse_cmap(v, (fathom_colormap *)p)) {
            snprintf(err, cap, "%s: unknown colormap '%.64s' (spectral_r, inferno, turbo, gray)",
                     key, v);
            return -1;
        }
        return 0;
    case K_BYTES: {
        size_t b;
        if (fathom_parse_bytes(v, &b) != FATHOM_OK || b < ki->lo || b > ki->hi) {
            snprintf(err, cap, "%s: '%.64s' is not a size in 1..1G", key, v);
            return -1;
        }
        *(size_t *)p = b;
        return 0;
    }
    case K_INT:
    case K_NUM: {
        errno = 0;
        double d = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(d) || d < ki->lo || d > ki->hi ||
            (ki->k == K_INT && d != floor(d))) {
            snprintf(err, cap, "%s: '%.64s' is not a%s in %g..%g", key, v,
                     ki->k == K_INT ? "n integer" : " number", ki->lo, ki->hi);
            return -1;
        }
        if (ki->k == K_INT) *(int *)p = (int)d;
        else *(double *)p = d;
        return 0;
    }
    }
    return -1;
}

int sv_config_patch_json(sv_config *c, const char *json, size_t len, char *err, size_t cap) {
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        snprintf(err, cap, "body is not a JSON object");
        cJSON_Delete(root);
        return -1;
    }
    sv_config tmp = *c;
    int rc = 0;
    for (cJSON *it = root->child; it && rc == 0; it = it->next) {
        char buf[64];
        const char *v = buf;
        if (cJSON_IsString(it)) v = it->valuestring;
        else if (cJSON_IsBool(it)) v = cJSON_IsTrue(it) ? "true" : "false";
        else if (cJSON_IsNumber(it)) snprintf(buf, sizeof buf, "%.17g", it->valuedouble);
        else {
            snprintf(err, cap, "%.64s: value must be a string, number or boolean",
                     it->string ? it->string : "?");
            rc = -1;
            break;
        }
        rc = sv_config_set(&tmp, it->string ? it->string : "", v, err, cap);
    }
    cJSON_Delete(root);
    if (rc == 0) *c = tmp;
    return rc;
}

int sv_config_load_yaml(sv_config *c, const char *text, size_t len, char *err, size_t cap) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    sv_config tmp = *c;
    char key[128] = "";
    int depth = 0, have_key = 0, rc = 0, done = 0;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            snprintf(err, cap, "YAML line %zu: %s", p.problem_mark.line + 1,
                     p.problem ? p.problem : "syntax error");
            rc = -1;
            break;
        }
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (++depth > 1) {
                snprintf(err, cap, "YAML line %zu: settings are flat 'key: value' lines",
                         ev.start_mark.line + 1);
                rc = -1;
            }
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT: depth--; break;
        case YAML_SCALAR_EVENT: {
            const char *s = (const char *)ev.data.scalar.value;
            if (depth != 1) {
                if (depth == 0 && ev.data.scalar.length == 0) break; /* empty document */
                snprintf(err, cap, "YAML line %zu: expected 'key: value' lines", ev.start_mark.line + 1);
                rc = -1;
            } else if (!have_key) {
                snprintf(key, sizeof key, "%s", s);
                have_key = 1;
            } else {
                have_key = 0;
                if (sv_config_set(&tmp, key, s, err, cap) != 0) rc = -1;
            }
            break;
        }
        case YAML_ALIAS_EVENT:
            snprintf(err, cap, "YAML line %zu: aliases are not supported", ev.start_mark.line + 1);
            rc = -1;
            break;
        case YAML_STREAM_END_EVENT: done = 1; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (rc == 0) *c = tmp;
    return rc;
}

static void value_text(const sv_config *c, const key_info *ki, char *buf, size_t cap) {
    const void *p = (const char *)c + ki->off;
    switch (ki->k) {
    case K_OPTS:
    case K_STR: snprintf(buf, cap, "%s", (const char *)p); break;
    case K_BOOL: snprintf(buf, cap, "%s", *(const int *)p ? "true" : "false"); break;
    case K_INT: snprintf(buf, cap, "%d", *(const int *)p); break;
    case K_NUM: { /* the shortest of %.15g / %.17g that reads back the same (YAML round trip) */
        const double d = *(const double *)p;
        snprintf(buf, cap, "%.15g", d);
        if (strtod(buf, NULL) != d) snprintf(buf, cap, "%.17g", d);
        break;
    }
    case K_CMAP: snprintf(buf, cap, "%s", fathom_colormap_name(*(const fathom_colormap *)p)); break;
    case K_BYTES: snprintf(buf, cap, "%zu", *(const size_t *)p); break;
    }
}

char *sv_config_to_json(const sv_config *c) {
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_info *ki = &k_keys[i];
        const void *p = (const char *)c + ki->off;
        char buf[1100];
        switch (ki->k) {
        case K_BOOL: cJSON_AddBoolToObject(o, ki->name, *(const int *)p); break;
        case K_INT: cJSON_AddNumberToObject(o, ki->name, *(const int *)p); break;
        case K_NUM: cJSON_AddNumberToObject(o, ki->name, *(const double *)p); break;
        case K_BYTES: cJSON_AddNumberToObject(o, ki->name, (double)*(const size_t *)p); break;
        default:
            value_text(c, ki, buf, sizeof buf);
            cJSON_AddStringToObject(o, ki->name, buf);
        }
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

char *sv_config_to_yaml(const sv_config *c) {
    size_t cap = 8192, n = 0;
    char *out = malloc(cap); /* owned by the caller */
    if (!out) return NULL;
    n += (size_t)snprintf(out + n, cap - n,
                          "# fathom serve settings (docs/serve.md). Reloaded on SIGHUP; PATCH "
                          "/v1/config changes them live.\n");
    for (size_t i = 0; i < N_KEYS; i++) {
        char v[1100];
        value_text(c, &k_keys[i], v, sizeof v);
        /* strings are double-quoted YAML scalars: escape what YAML would read otherwise */
        char q[2300];
        size_t m = 0;
        if (k_keys[i].k == K_STR || k_keys[i].k == K_OPTS) {
            q[m++] = '"';
            for (const char *s = v; *s && m < sizeof q - 4; s++) {
                if (*s == '"' || *s == '\\') q[m++] = '\\';
                q[m++] = *s;
            }
            q[m++] = '"';
            q[m] = '\0';
        } else {
            snprintf(q, sizeof q, "%s", v);
        }
        size_t need = strlen(k_keys[i].doc) + strlen(q) + strlen(k_keys[i].name) + 16;
        if (n + need >= cap) {
            char *g = realloc(out, cap * 2 + need);
            if (!g) {
                free(out);
                return NULL;
            }
            out = g;
            cap = cap * 2 + need;
        }
        n += (size_t)snprintf(out + n, cap - n, "# %s\n%s: %s\n", k_keys[i].doc, k_keys[i].name, q);
    }
    return out;
}
